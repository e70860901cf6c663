-- Roles granted by an admin (GrantRole): "moderator" or "admin". The first admins come
-- from OASIS_ADMIN_HANDLES and are not stored here (configuration, not data).
CREATE TABLE roles (
  user_id BIGINT NOT NULL,
  role VARCHAR(16) NOT NULL,
  granted_by BIGINT NOT NULL,
  granted_at DATETIME(3) NOT NULL,
  PRIMARY KEY (user_id, role)
);
