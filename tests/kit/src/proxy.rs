//! Real proxies from Debian packages (tinyproxy for HTTP, danted for SOCKS4/5) on free
//! loopback ports, for the tests of proxied connections.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::Process;
use crate::wait::free_port;

/// A real proxy from a Debian package (tinyproxy or danted), on a free loopback port,
/// in the foreground, killed when dropped.
pub struct ProxyProcess {
    pub process: Process,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// The proxy's own log file.
    pub log_file: PathBuf,
}

/// The system user danted checks SOCKS5 user/password against (created on demand).
pub const SOCKS_USER: &str = "dbxc-socks-test";

impl ProxyProcess {
    /// tinyproxy: HTTP proxy with Basic auth `username:password`, LogLevel Info.
    pub fn tinyproxy(dir: &Path, username: &str, password: &str) -> ProxyProcess {
        let dir = private_dir(dir, "tinyproxy");
        let port = free_port();
        let log_file = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 60\n\
                 LogFile \"{}\"\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\n\
                 BasicAuth {username} {password}\nDisableViaHeader Yes\n",
                log_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("tinyproxy");
        command.arg("-d").arg("-c").arg(&conf);
        let process = Self::start(command, "tinyproxy", &dir, port);
        ProxyProcess {
            process,
            port,
            username: username.to_string(),
            password: password.to_string(),
            log_file,
        }
    }

    /// danted: SOCKS5 with the `username` method, checked against the system user
    /// [`SOCKS_USER`] (created with useradd, its password set with chpasswd: needs root).
    pub fn danted(dir: &Path, password: &str) -> ProxyProcess {
        let dir = private_dir(dir, "danted");
        let exists = Command::new("id")
            .arg(SOCKS_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            let status = Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SOCKS_USER,
                ])
                .status()
                .expect("run useradd (the SOCKS5 test needs root)");
            assert!(status.success(), "useradd {SOCKS_USER}: {status}");
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd (the SOCKS5 test needs root)");
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{SOCKS_USER}:{password}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd {SOCKS_USER}");

        Self::start_danted(&dir, "username", SOCKS_USER, password)
    }

    /// danted on a free loopback port, accepting CONNECT from loopback with `socksmethod`
    /// (`username` checks the system user, `none` checks nothing).
    fn start_danted(dir: &Path, socksmethod: &str, username: &str, password: &str) -> ProxyProcess {
        let port = free_port();
        let log_file = dir.join("danted.log");
        let conf = dir.join("danted.conf");
        // danted wants one keyword per line inside a rule.
        let rule = "  from: 127.0.0.1/32 to: 0.0.0.0/0\n  log: connect disconnect error\n";
        std::fs::write(
            &conf,
            format!(
                "logoutput: {log}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: {socksmethod}\n\
                 user.privileged: root\nuser.unprivileged: nobody\n\
                 client pass {{\n{rule}}}\nsocks pass {{\n{rule}  command: connect\n}}\n",
                log = log_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("danted");
        command.arg("-f").arg(&conf).arg("-N").arg("1");
        let process = Self::start(command, "danted", dir, port);
        ProxyProcess {
            process,
            port,
            username: username.to_string(),
            password: password.to_string(),
            log_file,
        }
    }

    fn start(command: Command, name: &str, dir: &Path, port: u16) -> Process {
        Process::start_until_port(command, name, dir, port)
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// danted accepting SOCKS v4 without authentication (`socksmethod: none`): SOCKS4
    /// carries a user id but no password, so there is nothing to check.
    pub fn danted_socks4(dir: &Path) -> ProxyProcess {
        let dir = private_dir(dir, "danted-socks4");
        Self::start_danted(&dir, "none", "", "")
    }
}

/// A directory the proxies (which drop privileges to `nobody`) can write their logs into.
fn private_dir(parent: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // tempdir parents are 0700; the proxy's unprivileged user must reach its log.
    let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}
