import {
  acceptInvite,
  countAdmins,
  createFirstAdmin,
  emailSchema,
  findInvite,
  isSameOrigin,
  nameSchema,
  passwordSchema,
} from "@rlhf/core/auth";
import { createTRPCRouter, publicProcedure } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { answering } from "~/server/errors";

/** Public mutations carry no session to ride on, but are still refused from another site's pages. */
const sameSiteMutation = publicProcedure.use(({ ctx, next }) => {
  if (!isSameOrigin(ctx.headers))
    throw new TRPCError({ code: "FORBIDDEN", message: "Cross-site request refused." });
  return next();
});

/** Who is signed in, the first-start page, and invitations: what an anonymous visitor may reach. */
export const accountRouter = createTRPCRouter({
  /** The signed-in user (or null), and whether the workbench still needs its first admin. */
  me: publicProcedure.query(async ({ ctx }) => ({
    user: ctx.session?.user ?? null,
    needsSetup: ctx.session ? false : (await countAdmins(ctx.db)) === 0,
  })),

  /** First start: create the first admin. Refused once any admin exists. */
  setup: sameSiteMutation
    .input(z.object({ email: emailSchema, name: nameSchema, password: passwordSchema }))
    .mutation(({ ctx, input }) => answering(() => createFirstAdmin(ctx.db, input))),

  invitation: publicProcedure
    .input(z.object({ token: z.string().min(10).max(200) }))
    .query(async ({ ctx, input }) => {
      const invite = await findInvite(ctx.db, input.token);
      return invite && { email: invite.email, role: invite.role, expiresAt: invite.expiresAt };
    }),

  acceptInvite: sameSiteMutation
    .input(z.object({ token: z.string().min(10).max(200), name: nameSchema, password: passwordSchema }))
    .mutation(async ({ ctx, input }) => {
      const user = await answering(() => acceptInvite(ctx.db, input));
      return { email: user.email };
    }),
});
