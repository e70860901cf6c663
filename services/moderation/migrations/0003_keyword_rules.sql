-- Keyword rules (admins change them at run time): matched against new captions,
-- comments and chat messages by the rules consumer (domain/rules.ts).
CREATE TABLE keyword_rules (
  rule_id BIGINT NOT NULL PRIMARY KEY,
  keyword VARCHAR(100) NOT NULL,
  effect TINYINT NOT NULL,
  raise_points INT NOT NULL,
  created_by BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL
);
