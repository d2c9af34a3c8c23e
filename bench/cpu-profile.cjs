// Preload (`node --require`) that records a V8 CPU profile of the process into RLHF_CPU_PROFILE_DIR and
// writes it when the process is asked to stop (SIGINT/SIGTERM) or exits. `--cpu-prof` itself is not
// allowed in NODE_OPTIONS, which is how the benchmarks reach `next start`'s server.
const { Session } = require("node:inspector");
const fs = require("node:fs");
const path = require("node:path");

const dir = process.env.RLHF_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  let written = false;
  const write = (then) => {
    if (written) return then?.();
    written = true;
    session.post("Profiler.stop", (error, result) => {
      if (!error) {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
      }
      then?.();
    });
  };
  // The inspector answers a session of the same thread synchronously, so this works in 'exit' too.
  process.once("exit", () => write());
  for (const signal of ["SIGINT", "SIGTERM"]) process.prependOnceListener(signal, () => write());
}
