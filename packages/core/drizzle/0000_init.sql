CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"provider_id" text NOT NULL,
	"user_id" text NOT NULL,
	"access_token" text,
	"refresh_token" text,
	"id_token" text,
	"access_token_expires_at" timestamp with time zone,
	"refresh_token_expires_at" timestamp with time zone,
	"scope" text,
	"password" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"user_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "checkpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"step" bigint NOT NULL,
	"path" text NOT NULL,
	"is_final" boolean DEFAULT false NOT NULL,
	"metrics" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkpoints_run_step_unique" UNIQUE("run_id","step"),
	CONSTRAINT "checkpoints_step_check" CHECK ("checkpoints"."step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "comparison_tasks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dataset_id" uuid NOT NULL,
	"prompt" text NOT NULL,
	"required_rankings" integer DEFAULT 1 NOT NULL,
	"ranking_count" integer DEFAULT 0 NOT NULL,
	"gold_ranking" jsonb,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "comparison_tasks_required_check" CHECK ("comparison_tasks"."required_rankings" between 1 and 100),
	CONSTRAINT "comparison_tasks_count_check" CHECK ("comparison_tasks"."ranking_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "completions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"prompt" text NOT NULL,
	"response" text NOT NULL,
	"source" text NOT NULL,
	"run_id" uuid,
	"checkpoint_id" uuid,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"required_rankings" integer DEFAULT 1 NOT NULL,
	"source" text DEFAULT 'import' NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "datasets_name_unique" UNIQUE("name"),
	CONSTRAINT "datasets_kind_check" CHECK (kind in ('text', 'sft', 'prompts', 'preferences')),
	CONSTRAINT "datasets_required_rankings_check" CHECK ("datasets"."required_rankings" between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "examples" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dataset_id" uuid NOT NULL,
	"idx" integer NOT NULL,
	"split" text DEFAULT 'train' NOT NULL,
	"text" text,
	"prompt" text,
	"response" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "examples_dataset_idx_unique" UNIQUE("dataset_id","idx"),
	CONSTRAINT "examples_split_check" CHECK (split in ('train', 'eval')),
	CONSTRAINT "examples_content_check" CHECK ("examples"."text" is not null or "examples"."prompt" is not null)
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"run_id" uuid NOT NULL,
	"key" text NOT NULL,
	"step" bigint NOT NULL,
	"value" double precision NOT NULL,
	"wall_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "metrics_run_id_key_step_pk" PRIMARY KEY("run_id","key","step"),
	CONSTRAINT "metrics_step_check" CHECK ("metrics"."step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "rankings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"task_id" uuid NOT NULL,
	"annotator_id" text NOT NULL,
	"ranking" jsonb,
	"skipped" boolean DEFAULT false NOT NULL,
	"all_bad" boolean DEFAULT false NOT NULL,
	"strength" integer,
	"flags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"note" text,
	"time_ms" integer,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rankings_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "rankings_task_annotator_unique" UNIQUE("task_id","annotator_id"),
	CONSTRAINT "rankings_answer_check" CHECK ("rankings"."skipped" or "rankings"."all_bad" or ("rankings"."ranking" is not null and jsonb_typeof("rankings"."ranking") = 'array')),
	CONSTRAINT "rankings_strength_check" CHECK ("rankings"."strength" is null or "rankings"."strength" between 1 and 2),
	CONSTRAINT "rankings_time_check" CHECK ("rankings"."time_ms" is null or "rankings"."time_ms" >= 0)
);
--> statement-breakpoint
CREATE TABLE "run_inputs" (
	"run_id" uuid NOT NULL,
	"parent_run_id" uuid NOT NULL,
	"role" text NOT NULL,
	CONSTRAINT "run_inputs_run_id_parent_run_id_role_pk" PRIMARY KEY("run_id","parent_run_id","role"),
	CONSTRAINT "run_inputs_no_self_check" CHECK ("run_inputs"."run_id" <> "run_inputs"."parent_run_id")
);
--> statement-breakpoint
CREATE TABLE "run_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"level" text DEFAULT 'info' NOT NULL,
	"message" text NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_logs_level_check" CHECK (level in ('debug', 'info', 'warn', 'error'))
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"config" jsonb NOT NULL,
	"pipeline_id" uuid,
	"job_id" text,
	"worker_id" text,
	"worker_host" text,
	"backend" text,
	"device" text,
	"step" bigint DEFAULT 0 NOT NULL,
	"total_steps" bigint,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error" text,
	"log_tail" text,
	"cancel_requested_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"summary" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "runs_kind_check" CHECK (kind in ('pretrain', 'sft', 'reward', 'ppo', 'dpo', 'generate', 'external')),
	CONSTRAINT "runs_status_check" CHECK (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	CONSTRAINT "runs_step_check" CHECK ("runs"."step" >= 0),
	CONSTRAINT "runs_attempts_check" CHECK ("runs"."attempts" >= 0)
);
--> statement-breakpoint
CREATE TABLE "samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"step" bigint NOT NULL,
	"prompt" text NOT NULL,
	"response" text NOT NULL,
	"reward" double precision,
	"kl" double precision,
	"extra" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "samples_step_check" CHECK ("samples"."step" >= 0)
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"token" text NOT NULL,
	"user_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ip_address" text,
	"user_agent" text,
	"impersonated_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sessions_token_unique" UNIQUE("token")
);
--> statement-breakpoint
CREATE TABLE "task_completions" (
	"task_id" uuid NOT NULL,
	"completion_id" uuid NOT NULL,
	"position" integer NOT NULL,
	CONSTRAINT "task_completions_task_id_completion_id_pk" PRIMARY KEY("task_id","completion_id"),
	CONSTRAINT "task_completions_position_unique" UNIQUE("task_id","position"),
	CONSTRAINT "task_completions_position_check" CHECK ("task_completions"."position" between 0 and 8)
);
--> statement-breakpoint
CREATE TABLE "task_leases" (
	"task_id" uuid NOT NULL,
	"annotator_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "task_leases_task_id_annotator_id_pk" PRIMARY KEY("task_id","annotator_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"email_verified" boolean DEFAULT false NOT NULL,
	"image" text,
	"role" text DEFAULT 'annotator' NOT NULL,
	"banned" boolean DEFAULT false NOT NULL,
	"ban_reason" text,
	"ban_expires" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email"),
	CONSTRAINT "users_role_check" CHECK (role in ('admin', 'annotator'))
);
--> statement-breakpoint
CREATE TABLE "verifications" (
	"id" text PRIMARY KEY NOT NULL,
	"identifier" text NOT NULL,
	"value" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "comparison_tasks" ADD CONSTRAINT "comparison_tasks_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completions" ADD CONSTRAINT "completions_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completions" ADD CONSTRAINT "completions_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "examples" ADD CONSTRAINT "examples_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metrics" ADD CONSTRAINT "metrics_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rankings" ADD CONSTRAINT "rankings_task_id_comparison_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."comparison_tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rankings" ADD CONSTRAINT "rankings_annotator_id_users_id_fk" FOREIGN KEY ("annotator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_inputs" ADD CONSTRAINT "run_inputs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_inputs" ADD CONSTRAINT "run_inputs_parent_run_id_runs_id_fk" FOREIGN KEY ("parent_run_id") REFERENCES "public"."runs"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_logs" ADD CONSTRAINT "run_logs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "samples" ADD CONSTRAINT "samples_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_completions" ADD CONSTRAINT "task_completions_task_id_comparison_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."comparison_tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_completions" ADD CONSTRAINT "task_completions_completion_id_completions_id_fk" FOREIGN KEY ("completion_id") REFERENCES "public"."completions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_leases" ADD CONSTRAINT "task_leases_task_id_comparison_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."comparison_tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_leases" ADD CONSTRAINT "task_leases_annotator_id_users_id_fk" FOREIGN KEY ("annotator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "accounts_user_idx" ON "accounts" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "comparison_tasks_dataset_idx" ON "comparison_tasks" USING btree ("dataset_id","created_at");--> statement-breakpoint
CREATE INDEX "comparison_tasks_open_idx" ON "comparison_tasks" USING btree ("dataset_id") WHERE "comparison_tasks"."ranking_count" < "comparison_tasks"."required_rankings";--> statement-breakpoint
CREATE INDEX "completions_source_idx" ON "completions" USING btree ("source");--> statement-breakpoint
CREATE INDEX "completions_run_idx" ON "completions" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "examples_dataset_split_idx" ON "examples" USING btree ("dataset_id","split","idx");--> statement-breakpoint
CREATE INDEX "rankings_annotator_idx" ON "rankings" USING btree ("annotator_id","created_at");--> statement-breakpoint
CREATE INDEX "run_inputs_parent_idx" ON "run_inputs" USING btree ("parent_run_id");--> statement-breakpoint
CREATE INDEX "run_logs_run_idx" ON "run_logs" USING btree ("run_id","id");--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "runs_created_idx" ON "runs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "runs_pipeline_idx" ON "runs" USING btree ("pipeline_id");--> statement-breakpoint
CREATE INDEX "samples_run_step_idx" ON "samples" USING btree ("run_id","step");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "task_completions_completion_idx" ON "task_completions" USING btree ("completion_id");--> statement-breakpoint
CREATE INDEX "task_leases_expires_idx" ON "task_leases" USING btree ("expires_at");