/**
 * @oasis/client: typed access to the Oasis edge. `createOasisClient` gives one Connect
 * client per service (message types from the generated code in ./gen), sign-in with
 * token refresh, media upload, and `pages`/`items` for list methods. The service
 * descriptors are re-exported here; message types and enums (two services both have a
 * `BatchGetCountsRequest`, so they cannot share one namespace) are imported from the
 * generated files, e.g. `@oasis/client/gen/oasis/post/v1/post_pb.ts`.
 */
export { createOasisClient, errorReason, OasisClient, services, type OasisClientOptions, type ServiceClients, type Session } from "./client.ts";
export { items, pages, type Page, type PageRequest, type PagingOptions } from "./paging.ts";
export { Code, ConnectError } from "@connectrpc/connect";
export { ChatService } from "./gen/oasis/chat/v1/chat_service_pb.ts";
export { FeedService } from "./gen/oasis/feed/v1/feed_service_pb.ts";
export { GraphService } from "./gen/oasis/graph/v1/graph_service_pb.ts";
export { IdentityService } from "./gen/oasis/identity/v1/identity_service_pb.ts";
export { InteractionService } from "./gen/oasis/interaction/v1/interaction_service_pb.ts";
export { MediaService } from "./gen/oasis/media/v1/media_service_pb.ts";
export { NotificationService } from "./gen/oasis/notification/v1/notification_service_pb.ts";
export { PostService } from "./gen/oasis/post/v1/post_service_pb.ts";
export { SearchService } from "./gen/oasis/search/v1/search_service_pb.ts";
export { WalletService } from "./gen/oasis/wallet/v1/wallet_service_pb.ts";
