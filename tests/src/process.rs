//! A child process the harness owns: its output goes to a log file, and it
//! is stopped (SIGTERM, then SIGKILL after a grace period) when dropped, so
//! that a test that fails or panics leaves nothing running.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::wait::{poll, PATIENCE};

/// How long a process may take to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Lines of a log shown in a failure message.
pub const LOG_TAIL_LINES: usize = 30;

/// A running child process, stopped on drop.
pub struct Process {
    name: String,
    log: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command` with standard input closed and standard output and
    /// error appended to `log` (after a line naming the start), so that a
    /// restarted process keeps one log. Panics if it cannot be spawned.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Process {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("{name}: cannot open its log {}: {e}", log.display()));
        let _ = writeln!(file, "--- harness: starting {name}: {command:?}");
        let err = file.try_clone().expect("clone a log file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot spawn {command:?}: {e}"));
        Process { name: name.to_string(), log: log.to_path_buf(), child, exited: None }
    }

    /// Wraps an already spawned child whose output is not in a log file (a
    /// process whose standard output the test reads itself, say); `log` is
    /// where its standard error goes, shown by [`Process::log_tail`].
    pub fn adopt(name: &str, child: Child, log: &Path) -> Process {
        Process { name: name.to_string(), log: log.to_path_buf(), child, exited: None }
    }

    /// The name given at spawn, used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child, for what the harness does not wrap (taking a pipe, say).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its exit status if it has exited, without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// The last [`LOG_TAIL_LINES`] lines of its log, headed by its name.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        format!("--- {} log ({}), last {} lines:\n{}", self.name, self.log.display(), tail.len(), tail.join("\n"))
    }

    /// Sends SIGTERM (nothing if it has already exited).
    pub fn signal_terminate(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // std sends only SIGKILL and the workspace forbids unsafe code, so
        // SIGTERM goes through kill(1); if that cannot run, SIGKILL it is.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !sent {
            let _ = self.child.kill();
        }
    }

    /// Waits until it exits or `deadline` passes; its status if it exited.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // No exit notification without a signal handler: a short poll.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Checks `f` every [`crate::wait::POLL_INTERVAL`] until it returns
    /// `Some`; fails at once if this process exits meanwhile, and after
    /// [`PATIENCE`] otherwise, with `what` and its log tail.
    pub fn eventually<T>(&mut self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        poll(what, f, |timed_out| {
            if let Some(status) = self.exited() {
                return Some(format!("{} exited ({status})\n{}", self.name, self.log_tail()));
            }
            timed_out.then(|| format!("gave up after {} s\n{}", PATIENCE.as_secs(), self.log_tail()))
        })
    }

    /// SIGTERM, then waits up to [`STOP_GRACE`]; its exit status. Panics
    /// (after killing it) with its log tail if it did not exit in time.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal_terminate();
        match self.wait_until(Instant::now() + STOP_GRACE) {
            Some(status) => status,
            None => {
                self.kill();
                panic!("{} did not exit within {} s of SIGTERM\n{}", self.name, STOP_GRACE.as_secs(), self.log_tail())
            }
        }
    }

    /// SIGKILL and reap (nothing if it has already exited).
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.signal_terminate();
        if self.wait_until(Instant::now() + STOP_GRACE).is_none() {
            self.kill();
        }
    }
}

/// Stops every process of `procs` together: SIGTERM to all, one grace
/// period for all, then SIGKILL to those still running.
pub fn stop_all<'a>(procs: impl IntoIterator<Item = &'a mut Process>) {
    let mut procs: Vec<&mut Process> = procs.into_iter().collect();
    for p in &mut procs {
        p.signal_terminate();
    }
    let deadline = Instant::now() + STOP_GRACE;
    for p in &mut procs {
        if p.wait_until(deadline).is_none() {
            p.kill();
        }
    }
}

/// Opens (creating) a log file for a process's standard error, for
/// [`Process::adopt`].
pub fn log_file(path: &Path) -> File {
    File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
}
