import { createTRPCRouter, publicProcedure } from "@rlhf/core/trpc";

export const sessionRouter = createTRPCRouter({
  /** Who is signed in (null: nobody): the pages show admin actions only to admins. */
  me: publicProcedure.query(({ ctx }) => ctx.session?.user ?? null),
});
