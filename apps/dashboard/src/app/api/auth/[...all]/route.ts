import { authRouteHandlers } from "@rlhf/core/auth";
import { databaseOptions } from "~/server/db";

// better-auth's endpoints: /api/auth/sign-in/email, /api/auth/sign-out, /api/auth/get-session...
export const { GET, POST } = authRouteHandlers(databaseOptions);
