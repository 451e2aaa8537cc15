//! A real Matrix homeserver for the chat bridge's tests: Synapse (Python, from PyPI;
//! `scripts/test.sh` installs the pinned version into a virtual environment of its own) on a
//! free loopback port, with SQLite, the client API only (no federation), open registration, no
//! effective rate limits, and optionally Pupero's application service registered. A small
//! client plays the ordinary Matrix users (Element, say) on the other side of the bridge.
//!
//! Under `CI` or `PUPERO_REQUIRE_SERVICES=1` a missing Synapse fails the test; otherwise the
//! test is skipped with a message, like a missing MariaDB.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

/// Names the Python that has Synapse; `scripts/test.sh` sets it.
const PYTHON_VARIABLE: &str = "PUPERO_TEST_SYNAPSE_PYTHON";

/// Where `scripts/test.sh` puts that Python, under the cache directory, for runs without it.
const VENV_PYTHON: &str = "pupero-synapse-venv/bin/python";

/// The homeserver's name: user ids are `@localpart:pupero.test`.
const SERVER_NAME: &str = "pupero.test";

/// The users the application service owns, exclusively: its puppets and its bot.
const USER_NAMESPACE: &str = "@pupero_.*";

/// The room aliases the application service owns, exclusively: one per trade.
const ALIAS_NAMESPACE: &str = "#trade_.*";

/// How long Synapse may take to answer `/health`: about 3 s on an idle machine (creating the
/// SQLite schema is most of it), much more on a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Tries on freshly picked ports: another process may take a port between the moment it is
/// found free and the moment Synapse binds it.
const START_ATTEMPTS: u32 = 3;

/// How often the starting homeserver, or a condition in [`eventually`], is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long one request may take; Synapse answers the test's requests in milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`eventually`] waits: the bridge reacts to a transaction at once, and a loaded CI
/// machine is slow.
const EVENTUALLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the homeserver's log a failure to start shows.
const LOG_TAIL_LINES: usize = 60;

/// Events per page of `/messages`, and the pages read: a test room holds far fewer.
const MESSAGES_PAGE_SIZE: u32 = 100;
const MESSAGES_MAX_PAGES: u32 = 20;

/// The password of every user [`Synapse::register_user`] creates.
const PASSWORD: &str = "correct horse battery staple";

/// Rate limiters set to this never refuse a test (Synapse's defaults allow a few requests a
/// second, which a test exceeds at once).
const UNLIMITED: &str = "{per_second: 10000, burst_count: 10000}";

/// Pupero as a Matrix application service, as registered with the homeserver. The namespaces
/// are fixed: users [`USER_NAMESPACE`] and aliases [`ALIAS_NAMESPACE`], both exclusive.
#[derive(Debug, Clone)]
pub struct AppService {
    /// Where the homeserver pushes transactions: the Pupero server under test.
    pub url: String,
    /// What the application service sends the homeserver.
    pub as_token: String,
    /// What the homeserver sends the application service.
    pub hs_token: String,
    /// The application service's own user (its bot).
    pub sender_localpart: String,
}

impl AppService {
    /// An application service at `url` with fresh random tokens and the bot `pupero_bot`.
    pub fn new(url: impl Into<String>) -> AppService {
        let token = |prefix: &str| format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        AppService {
            url: url.into(),
            as_token: token("as"),
            hs_token: token("hs"),
            sender_localpart: "pupero_bot".to_owned(),
        }
    }

    /// The registration file Synapse reads (`app_service_config_files`).
    fn registration_yaml(&self) -> String {
        let AppService {
            url,
            as_token,
            hs_token,
            sender_localpart,
        } = self;
        format!(
            "id: pupero\n\
             url: {url:?}\n\
             as_token: {as_token:?}\n\
             hs_token: {hs_token:?}\n\
             sender_localpart: {sender_localpart:?}\n\
             rate_limited: false\n\
             namespaces:\n  \
               users: [{{exclusive: true, regex: '{USER_NAMESPACE}'}}]\n  \
               aliases: [{{exclusive: true, regex: '{ALIAS_NAMESPACE}'}}]\n  \
               rooms: []\n"
        )
    }
}

/// A running Synapse, killed (and waited for) when dropped.
pub struct Synapse {
    child: Child,
    port: u16,
    http: reqwest::Client,
    app_service: Option<AppService>,
    _dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os(PYTHON_VARIABLE) {
        return PathBuf::from(path);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .map(|cache| cache.join(VENV_PYTHON))
        .filter(|venv| venv.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// The homeserver's configuration: everything in `dir`, the client API on `port` only.
fn homeserver_yaml(dir: &Path, port: u16, app_service: Option<&AppService>) -> String {
    let dir = dir.display();
    let app_services = match app_service {
        Some(_) => format!("[\"{dir}/appservice.yaml\"]"),
        None => "[]".to_owned(),
    };
    format!(
        r#"server_name: "{SERVER_NAME}"
public_baseurl: "http://127.0.0.1:{port}/"
pid_file: "{dir}/homeserver.pid"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{dir}/homeserver.db"
log_config: "{dir}/log.yaml"
media_store_path: "{dir}/media"
signing_key_path: "{dir}/signing.key"
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
# By default the same /sync is answered from a cache for two minutes; tests poll it.
caches:
  sync_response_cache_duration: 0
enable_registration: true
enable_registration_without_verification: true
app_service_config_files: {app_services}
rc_message: {UNLIMITED}
rc_registration: {UNLIMITED}
rc_registration_token_validity: {UNLIMITED}
rc_login: {{address: {UNLIMITED}, account: {UNLIMITED}, failed_attempts: {UNLIMITED}}}
rc_admin_redaction: {UNLIMITED}
rc_joins: {{local: {UNLIMITED}, remote: {UNLIMITED}}}
rc_joins_per_room: {UNLIMITED}
rc_key_requests: {UNLIMITED}
rc_3pid_validation: {UNLIMITED}
rc_invites: {{per_room: {UNLIMITED}, per_user: {UNLIMITED}, per_issuer: {UNLIMITED}}}
rc_third_party_invite: {UNLIMITED}
rc_media_create: {UNLIMITED}
rc_presence: {{per_user: {UNLIMITED}}}
rc_delayed_event_mgmt: {UNLIMITED}
rc_room_creation: {UNLIMITED}
rc_reports: {UNLIMITED}
rc_user_directory: {UNLIMITED}
rc_profile: {UNLIMITED}
"#
    )
}

/// Logging to stderr, which the harness sends to `homeserver.log`: one file holds both the
/// log and whatever Python prints before logging is set up.
const LOG_YAML: &str = "version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(levelname)s - %(request)s - %(message)s'
handlers:
  stderr:
    class: logging.StreamHandler
    formatter: precise
    stream: ext://sys.stderr
root:
  level: INFO
  handlers: [stderr]
disable_existing_loggers: false
";

/// The last [`LOG_TAIL_LINES`] lines of the log in `dir`.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("homeserver.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

impl Synapse {
    /// Starts Synapse on a free loopback port, with `app_service` registered if given; `None`
    /// (the skip printed) when it is not installed and the run does not require it.
    ///
    /// # Panics
    /// When Synapse is required but missing, or does not start (with the end of its log).
    pub async fn start(app_service: Option<&AppService>) -> Option<Synapse> {
        let python = python();
        if !crate::support::python_imports(&python, "synapse", "Synapse", PYTHON_VARIABLE) {
            return None;
        }
        let http = http_client();
        for attempt in 1..=START_ATTEMPTS {
            // A fresh directory per try: a failed try may leave a half-made database.
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let write = |name: &str, text: &str| {
                std::fs::write(dir.path().join(name), text).expect("a config file");
            };
            write(
                "homeserver.yaml",
                &homeserver_yaml(dir.path(), port, app_service),
            );
            write("log.yaml", LOG_YAML);
            if let Some(app_service) = app_service {
                write("appservice.yaml", &app_service.registration_yaml());
            }
            let log = std::fs::File::create(dir.path().join("homeserver.log")).expect("log file");
            // Without `--generate-keys`, Synapse makes the missing signing key and runs.
            let mut child = Command::new(&python)
                .args(["-m", "synapse.app.homeserver", "-c"])
                .arg(dir.path().join("homeserver.yaml"))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
            let health = format!("http://127.0.0.1:{port}/health");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let healthy = http
                    .get(&health)
                    .send()
                    .await
                    .is_ok_and(|response| response.status() == StatusCode::OK);
                if healthy {
                    return Some(Synapse {
                        child,
                        port,
                        http,
                        app_service: app_service.cloned(),
                        _dir: dir,
                    });
                }
                let exited = child.try_wait().ok().flatten().is_some();
                if exited || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = log_tail(dir.path());
                    let collided = exited && log.contains("Address already in use");
                    assert!(
                        collided && attempt < START_ATTEMPTS,
                        "Synapse did not answer /health on port {port} within {START_TIMEOUT:?} \
                         (exited: {exited}); the end of its log:\n{log}"
                    );
                    break;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        unreachable!("every attempt either returned or panicked")
    }

    /// `http://127.0.0.1:PORT`, the client API's base.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The homeserver's name (`pupero.test`).
    pub fn server_name(&self) -> &str {
        SERVER_NAME
    }

    /// `@localpart:pupero.test`.
    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.server_name())
    }

    /// An ordinary user, registered with a password through the `m.login.dummy` flow, as
    /// Element does on a server without verification.
    pub async fn register_user(&self, localpart: &str) -> MatrixUser {
        let anonymous = self.user("", "", false);
        let mut request = json!({ "username": localpart, "password": PASSWORD });
        // The first request opens the interactive authentication session.
        let (status, challenge) = anonymous
            .request(Method::POST, &["register"], &[], Some(&request))
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "register {localpart}: {challenge}"
        );
        request["auth"] = json!({ "type": "m.login.dummy", "session": challenge["session"] });
        let registered = anonymous
            .call(Method::POST, &["register"], &[], Some(&request))
            .await;
        self.user(
            registered["user_id"].as_str().expect("user_id"),
            registered["access_token"].as_str().expect("access_token"),
            false,
        )
    }

    /// Registers `localpart` (in [`USER_NAMESPACE`]) through the application service, and
    /// returns the application service acting as that user (`?user_id=`).
    ///
    /// # Panics
    /// When Synapse was started without an application service.
    pub async fn register_app_service_user(&self, localpart: &str) -> MatrixUser {
        let app_service = self
            .app_service
            .as_ref()
            .expect("Synapse started without an application service");
        let user = self.user(&self.user_id(localpart), &app_service.as_token, true);
        let body = json!({ "type": "m.login.application_service", "username": localpart });
        let (status, answer) = user
            .request(Method::POST, &["register"], &[], Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK, "register {localpart}: {answer}");
        user
    }

    /// The application service acting as `user_id`, one of its users that exists already
    /// (such as the bridge's own, which Pupero registered).
    pub fn as_app_service(&self, user_id: &str) -> MatrixUser {
        let app_service = self
            .app_service
            .as_ref()
            .expect("Synapse started without an application service");
        self.user(user_id, &app_service.as_token, true)
    }

    fn user(&self, user_id: &str, access_token: &str, asserted: bool) -> MatrixUser {
        MatrixUser {
            user_id: user_id.to_owned(),
            access_token: access_token.to_owned(),
            asserted,
            base_url: self.base_url(),
            http: self.http.clone(),
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Someone using the client API: an ordinary user with their own token, or the application
/// service asserting one of its users' identity.
pub struct MatrixUser {
    /// `@localpart:pupero.test`.
    pub user_id: String,
    /// The user's token, or the application service's.
    pub access_token: String,
    /// Whether requests carry `?user_id=` (the application service acting as the user).
    asserted: bool,
    base_url: String,
    http: reqwest::Client,
}

/// Who is in a room.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Members {
    /// Joined user ids, sorted.
    pub joined: Vec<String>,
    /// Invited user ids, sorted.
    pub invited: Vec<String>,
}

impl MatrixUser {
    /// A request to `/_matrix/client/v3/{path...}` (each segment percent-encoded) as this
    /// user: the status and the JSON body (`null` when there is none).
    pub async fn request(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut url = Url::parse(&self.base_url).expect("base url");
        url.path_segments_mut()
            .expect("a base url")
            .pop_if_empty()
            .extend(["_matrix", "client", "v3"])
            .extend(path);
        url.query_pairs_mut().extend_pairs(query);
        if self.asserted {
            url.query_pairs_mut().append_pair("user_id", &self.user_id);
        }
        let mut request = self.http.request(method, url);
        if !self.access_token.is_empty() {
            request = request.bearer_auth(&self.access_token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("Synapse answers");
        let status = response.status();
        let text = response.text().await.expect("a response body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// As [`MatrixUser::request`], panicking unless the status is a success.
    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Value {
        let (status, answer) = self.request(method.clone(), path, query, body).await;
        assert!(
            status.is_success(),
            "{method} {} as {}: {status} {answer}",
            path.join("/"),
            self.user_id
        );
        answer
    }

    /// Creates a room from a `createRoom` body; its id.
    pub async fn create_room(&self, body: &Value) -> String {
        let created = self
            .call(Method::POST, &["createRoom"], &[], Some(body))
            .await;
        created["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Invites `user_id` to `room_id`.
    pub async fn invite(&self, room_id: &str, user_id: &str) {
        let body = json!({ "user_id": user_id });
        self.call(
            Method::POST,
            &["rooms", room_id, "invite"],
            &[],
            Some(&body),
        )
        .await;
    }

    /// Joins a room by id or alias; its id.
    pub async fn join(&self, room_id_or_alias: &str) -> String {
        let joined = self
            .call(
                Method::POST,
                &["join", room_id_or_alias],
                &[],
                Some(&json!({})),
            )
            .await;
        joined["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Sends a text message with a fresh transaction id; its event id.
    pub async fn send_text(&self, room_id: &str, body: &str) -> String {
        let txn_id = uuid::Uuid::new_v4().simple().to_string();
        self.send_text_with_txn(room_id, &txn_id, body).await
    }

    /// Sends a text message with transaction id `txn_id`; its event id (the same one again
    /// when the transaction id is repeated).
    pub async fn send_text_with_txn(&self, room_id: &str, txn_id: &str, body: &str) -> String {
        let content = json!({ "msgtype": "m.text", "body": body });
        let path = ["rooms", room_id, "send", "m.room.message", txn_id];
        let sent = self.call(Method::PUT, &path, &[], Some(&content)).await;
        sent["event_id"].as_str().expect("event_id").to_owned()
    }

    /// The room's text messages and notices as this user sees them, oldest first:
    /// `(sender, body)`.
    pub async fn messages(&self, room_id: &str) -> Vec<(String, String)> {
        let limit = MESSAGES_PAGE_SIZE.to_string();
        let mut from: Option<String> = None;
        let mut texts = Vec::new();
        for _ in 0..MESSAGES_MAX_PAGES {
            let mut query = vec![("dir", "f"), ("limit", limit.as_str())];
            if let Some(from) = &from {
                query.push(("from", from));
            }
            let page = self
                .call(Method::GET, &["rooms", room_id, "messages"], &query, None)
                .await;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            texts.extend(chunk.iter().filter_map(|event| {
                let is_text = event["type"] == "m.room.message"
                    && matches!(
                        event["content"]["msgtype"].as_str(),
                        Some("m.text" | "m.notice")
                    );
                is_text.then(|| {
                    let sender = event["sender"].as_str().unwrap_or_default().to_owned();
                    let body = event["content"]["body"].as_str().unwrap_or_default();
                    (sender, body.to_owned())
                })
            }));
            match page["end"].as_str() {
                Some(end) if !chunk.is_empty() => from = Some(end.to_owned()),
                _ => return texts,
            }
        }
        panic!("{room_id} has more than {MESSAGES_MAX_PAGES} pages of events")
    }

    /// The rooms this user is invited to and has not joined (from `/sync`).
    pub async fn invites(&self) -> Vec<String> {
        let sync = self
            .call(Method::GET, &["sync"], &[("timeout", "0")], None)
            .await;
        let invites = sync["rooms"]["invite"].as_object();
        invites.map_or_else(Vec::new, |rooms| rooms.keys().cloned().collect())
    }

    /// Who is joined to and invited to `room_id`; this user must be in it.
    pub async fn members(&self, room_id: &str) -> Members {
        let answer = self
            .call(Method::GET, &["rooms", room_id, "members"], &[], None)
            .await;
        let mut members = Members::default();
        for event in answer["chunk"].as_array().into_iter().flatten() {
            let user_id = event["state_key"].as_str().unwrap_or_default().to_owned();
            match event["content"]["membership"].as_str() {
                Some("join") => members.joined.push(user_id),
                Some("invite") => members.invited.push(user_id),
                _ => {}
            }
        }
        members.joined.sort();
        members.invited.sort();
        members
    }

    /// The room's `m.room.power_levels` content.
    pub async fn power_levels(&self, room_id: &str) -> Value {
        let path = ["rooms", room_id, "state", "m.room.power_levels"];
        self.call(Method::GET, &path, &[], None).await
    }
}

/// Polls `check` until it returns `Some`, for at most [`EVENTUALLY_TIMEOUT`].
///
/// # Panics
/// When it has not, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + EVENTUALLY_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {EVENTUALLY_TIMEOUT:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[tokio::test]
async fn synapse_starts_with_an_application_service() {
    // Nothing listens there: Synapse's pushes of the namespace's events fail and are retried
    // later, which this test does not wait for.
    let app_service = AppService::new(format!("http://127.0.0.1:{}", free_port()));
    let Some(synapse) = Synapse::start(Some(&app_service)).await else {
        return;
    };
    assert!(synapse.base_url().starts_with("http://127.0.0.1:"));

    let alice = synapse.register_app_service_user("pupero_alice").await;
    assert_eq!(alice.user_id, "@pupero_alice:pupero.test");
    let room_id = alice
        .create_room(&json!({
            "preset": "private_chat",
            "room_alias_name": "trade_smoke",
            "name": "Trade smoke",
        }))
        .await;
    // Room version 12 (Synapse's default): the creator outranks everyone without being
    // listed, and members may talk.
    let power_levels = alice.power_levels(&room_id).await;
    assert!(
        power_levels["users"].get(&alice.user_id).is_none(),
        "{power_levels}"
    );
    assert_eq!(power_levels["events_default"], 0, "{power_levels}");

    let bob = synapse.register_user("bob").await;
    assert_eq!(bob.user_id, synapse.user_id("bob"));
    assert_ne!(bob.access_token, app_service.as_token);
    alice.invite(&room_id, &bob.user_id).await;
    let members = alice.members(&room_id).await;
    assert_eq!(members.joined, [alice.user_id.as_str()]);
    assert_eq!(members.invited, [bob.user_id.as_str()]);
    eventually("bob sees the invite", || async {
        bob.invites().await.contains(&room_id).then_some(())
    })
    .await;
    let alias = format!("#trade_smoke:{}", synapse.server_name());
    assert_eq!(bob.join(&alias).await, room_id);
    assert!(bob.invites().await.is_empty());
    let mut joined = vec![alice.user_id.clone(), bob.user_id.clone()];
    joined.sort();
    assert_eq!(
        alice.members(&room_id).await,
        Members {
            joined,
            invited: Vec::new()
        }
    );

    let first = alice
        .send_text_with_txn(&room_id, "smoke-1", "hello from alice")
        .await;
    let again = alice
        .send_text_with_txn(&room_id, "smoke-1", "hello from alice")
        .await;
    assert_eq!(first, again, "a repeated transaction id is the same event");
    bob.send_text(&room_id, "hello from bob").await;
    assert_eq!(
        bob.messages(&room_id).await,
        [
            (alice.user_id.clone(), "hello from alice".to_owned()),
            (bob.user_id.clone(), "hello from bob".to_owned()),
        ]
    );

    // The namespace is exclusive: an ordinary user cannot take a name in it.
    let anonymous = synapse.user("", "", false);
    let body = json!({ "username": "pupero_eve", "password": PASSWORD });
    let (status, answer) = anonymous
        .request(Method::POST, &["register"], &[], Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["errcode"], "M_EXCLUSIVE", "{answer}");
}
