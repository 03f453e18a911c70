//! A real `moto_server` (PyPI `moto[server]`), the AWS IAM/STS/KMS stand-in, one per test process.
//!
//! Moto enforces IAM authentication and authorization only when `INITIAL_NO_AUTH_ACTION_COUNT`
//! is set: that many requests pass unauthenticated, every later one is checked against the
//! caller's policies. The bootstrap makes exactly that many calls (create the admin user, give
//! it an allow-all policy, create its access key), so from then on a key without a permission
//! gets `AccessDenied` as on AWS, and an unknown key `InvalidClientTokenId`.
//!
//! The server runs under a small shell watchdog that kills it once the test process is gone,
//! so a panicking or killed test leaves no moto behind.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::free_port;

/// The unauthenticated bootstrap calls: CreateUser, PutUserPolicy, CreateAccessKey.
const BOOTSTRAP_CALLS: u32 = 3;

/// AWS keys (a session token for STS credentials).
#[derive(Clone)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKeys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A KMS key made by [`Moto::create_kms_key`].
#[derive(Debug, Clone)]
pub struct KmsKey {
    /// The key id (a UUID).
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
}

pub struct Moto {
    port: u16,
    root: AwsKeys,
}

impl Moto {
    /// The process's moto_server, started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let found = Command::new("sh")
            .args(["-c", "python3 -c 'import moto.server, boto3'"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "moto_server is not installed for python3: pip install 'moto[server]' boto3"
        );
        let port = free_port();
        let parent = std::process::id();
        // The watchdog: moto lives while the test process does.
        let script = format!(
            "python3 -m moto.server -p {port} -H 127.0.0.1 >/dev/null 2>&1 & child=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; \
             kill $child 2>/dev/null"
        );
        let mut watchdog = Command::new("sh")
            .args(["-c", &script])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", BOOTSTRAP_CALLS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server under sh");
        // Reaped whenever it ends (moto crashed, or this process is exiting).
        std::thread::spawn(move || watchdog.wait());
        wait_for_port(port, Duration::from_secs(60), "moto_server");

        let endpoint = format!("http://127.0.0.1:{port}");
        // Exactly BOOTSTRAP_CALLS calls, unauthenticated (the keys are placeholders).
        let out = run_python(
            &endpoint,
            &AwsKeys {
                access_key_id: "bootstrap".into(),
                secret_access_key: "bootstrap".into(),
                session_token: None,
            },
            r#"
iam = client("iam")
iam.create_user(UserName="scaivault-admin")
iam.put_user_policy(UserName="scaivault-admin", PolicyName="all",
    PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="scaivault-admin")["AccessKey"]
print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
"#,
        )
        .unwrap_or_else(|e| panic!("moto bootstrap failed: {e}"));
        let (access_key_id, secret_access_key): (String, String) =
            parse_pair(&out).expect("moto bootstrap printed no key");
        Moto {
            port,
            root: AwsKeys {
                access_key_id,
                secret_access_key,
                session_token: None,
            },
        }
    }

    /// `http://127.0.0.1:PORT`: the IAM and STS endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The admin user's access key (allowed everything), for an engine to use.
    pub fn root_keys(&self) -> (String, String) {
        (
            self.root.access_key_id.clone(),
            self.root.secret_access_key.clone(),
        )
    }

    /// A new admin user `name` with its own access key (for a test that rotates its key and
    /// must not disturb the others).
    pub fn new_admin(&self, name: &str) -> (String, String) {
        let code = format!(
            r#"
iam = client("iam")
iam.create_user(UserName={name:?})
iam.put_user_policy(UserName={name:?}, PolicyName="all",
    PolicyDocument=json.dumps({{"Version": "2012-10-17",
        "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}}))
key = iam.create_access_key(UserName={name:?})["AccessKey"]
print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
"#
        );
        let out = self
            .python(&self.root, &code)
            .unwrap_or_else(|e| panic!("creating admin {name} failed: {e}"));
        parse_pair(&out).expect("no key printed")
    }

    /// A new user `name` allowed only `actions` (e.g. `["iam:GetUser"]`), with its own access
    /// key: for a test that needs `AccessDenied` on everything else.
    pub fn new_user(&self, name: &str, actions: &[&str]) -> (String, String) {
        let actions: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
        let code = format!(
            r#"
iam = client("iam")
iam.create_user(UserName={name:?})
iam.put_user_policy(UserName={name:?}, PolicyName="limited",
    PolicyDocument=json.dumps({{"Version": "2012-10-17",
        "Statement": [{{"Effect": "Allow", "Action": [{actions}], "Resource": "*"}}]}}))
key = iam.create_access_key(UserName={name:?})["AccessKey"]
print(json.dumps([key["AccessKeyId"], key["SecretAccessKey"]]))
"#,
            actions = actions.join(", ")
        );
        let out = self
            .python(&self.root, &code)
            .unwrap_or_else(|e| panic!("creating user {name} failed: {e}"));
        parse_pair(&out).expect("no key printed")
    }

    /// A new symmetric KMS key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT), with `alias`
    /// (`alias/...`) pointing at it if given.
    pub fn create_kms_key(&self, alias: Option<&str>) -> KmsKey {
        let alias = alias.map_or_else(|| "None".to_owned(), |a| format!("{a:?}"));
        let code = format!(
            r#"
kms = client("kms")
meta = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
    Description="scaivault test root key")["KeyMetadata"]
alias = {alias}
if alias is not None:
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
print(json.dumps([meta["KeyId"], meta["Arn"]]))
"#
        );
        let out = self
            .python(&self.root, &code)
            .unwrap_or_else(|e| panic!("creating a KMS key failed: {e}"));
        let (key_id, arn) = parse_pair(&out).expect("no KMS key printed");
        KmsKey { key_id, arn }
    }

    /// Disables a KMS key (`DisableKey`).
    pub fn disable_kms_key(&self, key_id: &str) {
        let code = format!(r#"client("kms").disable_key(KeyId={key_id:?})"#);
        self.python(&self.root, &code)
            .unwrap_or_else(|e| panic!("disabling KMS key {key_id} failed: {e}"));
    }

    /// Schedules a KMS key's deletion (state `PendingDeletion`, 7 days).
    pub fn schedule_kms_key_deletion(&self, key_id: &str) {
        let code = format!(
            r#"client("kms").schedule_key_deletion(KeyId={key_id:?}, PendingWindowInDays=7)"#
        );
        self.python(&self.root, &code)
            .unwrap_or_else(|e| panic!("scheduling deletion of KMS key {key_id} failed: {e}"));
    }

    /// The admin keys as [`AwsKeys`].
    pub fn root(&self) -> &AwsKeys {
        &self.root
    }

    /// Runs a boto3 snippet (the real AWS client) against moto with `keys` (given in the
    /// environment, never on a command line). `client(service)` makes a client for this
    /// endpoint; `json` is imported. Ok(stdout) or Err(stderr) (an AWS error names its code,
    /// e.g. `AccessDenied`).
    pub fn python(&self, keys: &AwsKeys, code: &str) -> Result<String, String> {
        run_python(&self.endpoint(), keys, code)
    }
}

fn parse_pair(out: &str) -> Option<(String, String)> {
    let line = out.lines().last()?.trim();
    let inner = line.strip_prefix("[\"")?.strip_suffix("\"]")?;
    let (a, b) = inner.split_once("\", \"")?;
    Some((a.to_owned(), b.to_owned()))
}

const PRELUDE: &str = r#"
import json, os
try:
    import boto3
except ImportError:
    raise SystemExit("boto3 is not installed: pip install boto3")
def client(service):
    return boto3.client(service, endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1")
"#;

fn run_python(endpoint: &str, keys: &AwsKeys, code: &str) -> Result<String, String> {
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(format!("{PRELUDE}\n{code}"))
        .env("MOTO_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", &keys.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret_access_key)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    if let Some(token) = &keys.session_token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 (apt-get install python3): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("boto3 is not installed"),
        "boto3 is not installed: pip install boto3"
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(stderr)
    }
}

/// Polls until `port` accepts connections (a peer starting up; bounded by `deadline`).
#[allow(
    clippy::disallowed_methods,
    reason = "polling a starting peer until it is up, with a deadline, not waiting on behaviour"
)]
pub(crate) fn wait_for_port(port: u16, deadline: Duration, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < deadline,
            "{what} did not accept connections on port {port} within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
