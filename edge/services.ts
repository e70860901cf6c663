/**
 * The service contracts the edge serves, from the generated code. Adding a service to
 * the mesh means adding its descriptor here (and its entry in mesh.config.ts).
 */
import type { DescService } from "@bufbuild/protobuf";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { WalletService } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";

export const edgeServices: readonly DescService[] = [
  IdentityService,
  GraphService,
  MediaService,
  PostService,
  FeedService,
  InteractionService,
  NotificationService,
  SearchService,
  WalletService,
  ChatService,
  ModerationService,
];
