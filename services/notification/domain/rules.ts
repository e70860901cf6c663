/** Inbox text: snippets and summaries ("reed_7 and 12 others liked your post"). */
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";

/** A snippet for the inbox: the first 140 characters. */
export function snippet(text: string): string {
  const chars = [...text];
  return chars.length > 140 ? `${chars.slice(0, 139).join("")}…` : text;
}

/** Summary text: "reed_7 and 12 others liked your post". */
export function summarize(kind: NotificationKind, handles: readonly string[], actorCount: number, text = ""): string {
  const who = handles[0] ?? "someone";
  const others = actorCount - 1;
  const subject = others <= 0 ? who : others === 1 && handles[1] ? `${who} and ${handles[1]}` : `${who} and ${others} others`;
  switch (kind) {
    case NotificationKind.FOLLOW:
      return `${subject} followed you`;
    case NotificationKind.FOLLOW_REQUEST:
      return `${subject} asked to follow you`;
    case NotificationKind.LIKE:
      return `${subject} liked your post`;
    case NotificationKind.COMMENT:
      return `${subject} commented on your post`;
    case NotificationKind.REPLY:
      return `${subject} replied to your comment`;
    case NotificationKind.MENTION:
      return `${subject} mentioned you`;
    case NotificationKind.REFER:
      return `${subject} shared your post`;
    case NotificationKind.DROPS:
      return `${who} gave you ${text || "drops"}`;
    case NotificationKind.MESSAGE:
      return `${subject} sent you a message`;
    case NotificationKind.MODERATION_ACTION:
    case NotificationKind.REPORT_OUTCOME:
      return text;
    default:
      return subject;
  }
}
