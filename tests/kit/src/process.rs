//! A test's child processes: started as a user would, ready once they say so, and
//! stopped as an operator would (SIGTERM) with a clean exit asserted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a process gets to print its `listening on` line or open its port.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// How long a process gets to exit after SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A child process. Dropped, it is stopped with SIGTERM and must exit cleanly (unless the
/// test is already failing, or the process is not ours: then it is killed).
pub struct Process {
    child: Child,
    name: String,
    stderr_log: PathBuf,
    /// Lines the process printed on stdout after its `listening on` line.
    stdout_lines: mpsc::Receiver<String>,
    /// Whether dropping it asserts a clean exit after SIGTERM.
    clean_exit_on_drop: bool,
    /// Set once the child was waited for.
    exited: Option<ExitStatus>,
}

impl Process {
    /// Starts `command` with stderr in `<log_dir>/<name>.stderr.log` and waits for its
    /// stdout line `listening on <address>`. Returns the process and the address.
    pub fn start_listening(command: Command, name: &str, log_dir: &Path) -> (Process, String) {
        let stderr_log = log_dir.join(format!("{name}.stderr.log"));
        let file = std::fs::File::create(&stderr_log).expect("create stderr log");
        Self::listening(command, name, stderr_log, file)
    }

    /// Like [`Process::start_listening`], appending stderr to `stderr_log` (one log across
    /// restarts of the same server).
    pub fn start_listening_appending(
        command: Command,
        name: &str,
        stderr_log: &Path,
    ) -> (Process, String) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_log)
            .expect("open stderr log");
        Self::listening(command, name, stderr_log.to_path_buf(), file)
    }

    fn listening(
        mut command: Command,
        name: &str,
        stderr_log: PathBuf,
        stderr: std::fs::File,
    ) -> (Process, String) {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let process = Process {
            child,
            name: name.to_string(),
            stderr_log,
            stdout_lines: rx,
            clean_exit_on_drop: true,
            exited: None,
        };
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match process.stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(address) = line.trim().strip_prefix("listening on ") {
                        let address = address.trim().to_string();
                        return (process, address);
                    }
                }
                Err(_) => {
                    let mut process = process;
                    let status = process.child.try_wait().ok().flatten();
                    process.clean_exit_on_drop = false;
                    panic!(
                        "{name} did not print `listening on ...` within {STARTUP_DEADLINE:?} (exit: {status:?}); stderr:\n{}",
                        process.stderr()
                    );
                }
            }
        }
    }

    /// Starts a program that is not ours (a proxy) with stderr in `<dir>/<name>.stderr.log`
    /// and waits until it accepts TCP on 127.0.0.1:`port`. It is killed when dropped.
    pub fn start_until_port(mut command: Command, name: &str, dir: &Path, port: u16) -> Process {
        let stderr_log = dir.join(format!("{name}.stderr.log"));
        let stderr_file = std::fs::File::create(&stderr_log).expect("create stderr log");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr_file));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} (is the Debian package installed?): {e}"));
        let (_tx, stdout_lines) = mpsc::channel();
        let mut process = Process {
            child,
            name: name.to_string(),
            stderr_log,
            stdout_lines,
            clean_exit_on_drop: false,
            exited: None,
        };
        let end = Instant::now() + STARTUP_DEADLINE;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return process;
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{name} exited ({status}); stderr:\n{}", process.stderr());
            }
            assert!(
                Instant::now() < end,
                "{name} did not listen on 127.0.0.1:{port}; stderr:\n{}",
                process.stderr()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Dropping the process kills it instead of asserting a clean exit (for a caller that
    /// stops it itself, e.g. off an async runtime).
    pub fn kill_on_drop(mut self) -> Process {
        self.clean_exit_on_drop = false;
        self
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Stdout lines printed after the `listening on` line, without waiting.
    pub fn stdout_so_far(&self) -> Vec<String> {
        self.stdout_lines.try_iter().collect()
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size (VmHWM) in bytes, from /proc.
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib * 1024
    }

    /// Sends SIGTERM and waits for the exit, up to `deadline`; `None` if it is still
    /// running then.
    pub fn terminate(&mut self, deadline: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Stops the process as an operator would (SIGTERM) and asserts that it exits, with
    /// status 0, within [`STOP_DEADLINE`].
    pub fn stop(&mut self) {
        let Some(status) = self.terminate(STOP_DEADLINE) else {
            let stderr = self.stderr();
            self.kill();
            panic!(
                "{} did not exit within {STOP_DEADLINE:?} of SIGTERM; stderr:\n{stderr}",
                self.name
            );
        };
        assert!(
            status.success(),
            "{} did not exit cleanly after SIGTERM ({status}); stderr:\n{}",
            self.name,
            self.stderr()
        );
    }

    /// Kills the process with SIGKILL (a crash: no grace, no cleanup) and reaps it.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// The name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.clean_exit_on_drop && self.exited.is_none() && !std::thread::panicking() {
            self.stop();
        } else {
            self.kill();
        }
    }
}
