//! A real SMTP server for the mail tests: aiosmtpd (Python, from PyPI; `scripts/test.sh`
//! installs the pinned version into a virtual environment of its own) listening on a free
//! loopback port, storing every message it receives in a Maildir that the test reads, as a
//! mail client would: headers unfolded, the body decoded.
//!
//! Under `CI` or `PUPERO_REQUIRE_SERVICES=1` a missing aiosmtpd fails the test; otherwise the
//! test is skipped with a message, like a missing MariaDB.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Names the Python that has aiosmtpd; `scripts/test.sh` sets it.
const PYTHON_VARIABLE: &str = "PUPERO_TEST_SMTP_PYTHON";

/// Where `scripts/test.sh` puts that Python, under the home directory, for runs without it.
const VENV_PYTHON: &str = ".cache/pupero-smtp-venv/bin/python";

/// How long the server may take to listen: Python starts in a fraction of a second.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Tries on freshly picked ports: another process may take a port between the moment it is
/// found free and the moment the server binds it.
const START_ATTEMPTS: u32 = 3;

/// How long a mail may take from the request that queued it to the Maildir: the mailer is
/// woken at once, and a loaded CI machine is slow.
const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the Maildir (or the starting server) is looked at while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// One received mail, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope's recipient (`X-RcptTo`, written by aiosmtpd).
    pub to: String,
    /// The `From` header.
    pub from: String,
    /// The `Subject` header.
    pub subject: String,
    /// The text, with its transfer encoding undone.
    pub body: String,
}

impl Mail {
    /// The token of the link to `path` in the body (`…{path}?token=…`).
    pub fn token(&self, path: &str) -> String {
        let marker = format!("{path}?token=");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker} link in {:?}", self.body))
            + marker.len();
        self.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .collect()
    }
}

/// A running aiosmtpd, killed when dropped.
pub struct SmtpServer {
    child: Child,
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    maildir: PathBuf,
    seen: Mutex<HashSet<PathBuf>>,
    _dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os(PYTHON_VARIABLE) {
        return PathBuf::from(path);
    }
    std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(VENV_PYTHON))
        .filter(|venv| venv.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

impl SmtpServer {
    /// Starts aiosmtpd on a free loopback port; `None` (the skip printed) when it is not
    /// installed and the run does not require it.
    ///
    /// # Panics
    /// When aiosmtpd is required but missing, or does not start.
    pub async fn start() -> Option<SmtpServer> {
        let python = python();
        if !crate::support::python_imports(&python, "aiosmtpd", "aiosmtpd", PYTHON_VARIABLE) {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
            let mut child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Some(SmtpServer {
                        child,
                        url: format!("smtp://127.0.0.1:{port}"),
                        maildir,
                        seen: Mutex::new(HashSet::new()),
                        _dir: dir,
                    });
                }
                let exited = child.try_wait().ok().flatten().is_some();
                if exited || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(dir.path().join("aiosmtpd.log"))
                        .unwrap_or_default();
                    assert!(
                        attempt < START_ATTEMPTS,
                        "aiosmtpd did not start on port {port}: {log}"
                    );
                    break;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        unreachable!("every attempt either returned or panicked")
    }

    /// Every mail received so far, seen or not.
    pub fn all(&self) -> Vec<Mail> {
        self.files().iter().map(|path| read_mail(path)).collect()
    }

    /// The first mail not returned before that `wanted` accepts, waiting for it at most
    /// [`MAIL_TIMEOUT`].
    ///
    /// # Panics
    /// When none arrives in time.
    pub async fn wait_for(&self, what: &str, wanted: impl Fn(&Mail) -> bool) -> Mail {
        let deadline = Instant::now() + MAIL_TIMEOUT;
        loop {
            for path in self.files() {
                if self.seen.lock().unwrap().contains(&path) {
                    continue;
                }
                let mail = read_mail(&path);
                if wanted(&mail) {
                    self.seen.lock().unwrap().insert(path);
                    return mail;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no mail {what} within {MAIL_TIMEOUT:?}; received: {:#?}",
                self.all()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The next mail to `to` whose subject contains `subject`.
    pub async fn mail_to(&self, to: &str, subject: &str) -> Mail {
        self.wait_for(&format!("to {to} about {subject:?}"), |mail| {
            mail.to == to && mail.subject.contains(subject)
        })
        .await
    }

    /// Delivered messages, in the order the server received them: aiosmtpd names each
    /// `<seconds>.M<microseconds>P<pid>Q<count>.<host>`, its count rising per message.
    fn files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<(u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let count = name
                    .split_once('Q')
                    .and_then(|(_, rest)| rest.split('.').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(u64::MAX);
                (count, path)
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, path)| path).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_mail(path: &Path) -> Mail {
    let raw = std::fs::read_to_string(path).expect("a text message");
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continuation lines, then split `Name: value`.
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = match header("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => quoted_printable(body),
        "base64" => {
            use base64::Engine as _;
            let text: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .expect("base64 body"),
            )
            .expect("a UTF-8 body")
        }
        _ => body.to_owned(),
    };
    Mail {
        to: header("X-RcptTo"),
        from: header("From"),
        subject: header("Subject"),
        body,
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=')
            .then(|| joined.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}

#[test]
fn quoted_printable_bodies_decode() {
    assert_eq!(
        quoted_printable("a link http://x/reset?token=3Dpmt_a=\nbc and caf=C3=A9\n"),
        "a link http://x/reset?token=pmt_abc and café\n"
    );
}
