//! The safe binding against the real library, and a real round of `secaggd` with Swift clients.
use secagg::{
    from_hex, participate, to_hex, CancelToken, Client, Coordinator, ErrorKind, Identity, Options, Outcome, Policy,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// A fresh folder under the system temporary folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = env::temp_dir().join(format!(
            "secagg-rust-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn library_version() {
    assert_eq!(secagg::abi_version(), secagg::sys::SECAGG_ABI_VERSION);
    assert!(!secagg::version().is_empty());
}

#[test]
fn error_kinds() {
    let unknown = secagg::Error { kind: ErrorKind::Unknown(999), detail: String::new() }.to_string();
    let mut messages = Vec::new();
    for code in 1..=21 {
        let kind = ErrorKind::from_raw(code);
        assert!(!matches!(kind, ErrorKind::Unknown(_)), "code {code} has no variant");
        assert_eq!(kind.code(), code);
        let message = secagg::Error { kind, detail: String::new() }.to_string();
        assert_ne!(message, unknown, "code {code}");
        assert!(!messages.contains(&message), "code {code} repeats {message}");
        messages.push(message);
        assert_eq!(kind.retry_later(), (17..=19).contains(&code));
    }
    assert_eq!(ErrorKind::from_raw(14), ErrorKind::NotEnrolled);
    assert_eq!(ErrorKind::from_raw(21), ErrorKind::OutcomeUnknown);
    assert_eq!(ErrorKind::from_raw(22), ErrorKind::Unknown(22));
    let policy = Policy::default();
    assert_eq!((policy.min_threshold, policy.min_survivors, policy.min_local_noise_variance), (2, 3, 0.0));
}

#[test]
fn identity_round_trip() {
    let scratch = Scratch::new("identity");
    let identity = Identity::generate().unwrap();
    let key = identity.public_key().unwrap();
    let again = Identity::from_seed(&identity.seed().unwrap()).unwrap();
    assert_eq!(again.public_key().unwrap(), key);
    let path = scratch.0.join("rust.key");
    identity.save(&path).unwrap();
    assert_eq!(identity.save(&path).unwrap_err().kind, ErrorKind::Io);
    assert_eq!(Identity::load(&path).unwrap().public_key().unwrap(), key);
    assert_eq!(Identity::from_seed(&[0u8; 31]).err().unwrap().kind, ErrorKind::InvalidArgument);
    assert_eq!(Identity::load(scratch.0.join("missing")).err().unwrap().kind, ErrorKind::Io);
    assert_eq!(from_hex(&to_hex(&key)).unwrap(), key.to_vec());
}

#[test]
fn participate_failures_and_cancellation() {
    let identity = Identity::generate().unwrap();
    let closed = Coordinator { host: "127.0.0.1".into(), port: 1, public_key: identity.public_key().unwrap() };
    let options = Options { connect_attempts: 2, ..Options::default() };
    let error = participate(&identity, &closed, "t", &[1], &options, None).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unreachable);
    assert!(!error.detail.is_empty());
    assert!(error.to_string().contains("unreachable"));

    let bad = Coordinator { host: "127.0.0.1".into(), port: 0, ..closed.clone() };
    assert_eq!(participate(&identity, &bad, "t", &[1], &options, None).unwrap_err().kind, ErrorKind::InvalidArgument);

    let options =
        Options { connect_attempts: 1000, total_timeout: Some(Duration::from_millis(300)), ..Options::default() };
    assert_eq!(participate(&identity, &closed, "t", &[1], &options, None).unwrap_err().kind, ErrorKind::Timeout);

    // Another thread cancels the blocking call.
    let token = CancelToken::new().unwrap();
    let options = Options { connect_attempts: 1000, ..Options::default() };
    let start = Instant::now();
    let result = thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(300));
            token.cancel();
        });
        participate(&identity, &closed, "t", &[1], &options, Some(&token))
    });
    assert_eq!(result.unwrap_err().kind, ErrorKind::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn sans_io_client_rejects_a_bad_message() {
    let identity = Identity::generate().unwrap();
    let mut client = Client::new(&identity, &[1, 2, 3], Some(&Policy::default()), Some("histogram")).unwrap();
    let join = client.next_message().unwrap().unwrap();
    assert!(join.windows(9).any(|window| window == b"histogram"));
    assert_eq!(client.next_message().unwrap(), None);
    assert_eq!(client.phase(), None);
    assert!(client.receipt().is_none());
    let error = client.handle(&[0xff, 0, 1]).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Protocol);
    let receipt = client.receipt().unwrap();
    assert!(matches!(receipt.outcome, Outcome::Aborted { code: 0x0204, .. }));
    assert_eq!(client.handle(&[1]).unwrap_err().kind, ErrorKind::State);
    assert_eq!(client.abort(0x0206, "late").unwrap_err().kind, ErrorKind::State);
}

fn keygen(bin: &Path, folder: &Path, name: &str) -> String {
    let output = Command::new(bin.join("secagg"))
        .args(["keygen", "--out"])
        .arg(folder.join(format!("{name}.key")))
        .output()
        .unwrap();
    assert!(output.status.success(), "keygen {name}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Kills the daemon if the test fails before it exits.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Three `secagg participate` processes and this Rust client in one round of `secaggd`: the released sum
/// includes the Rust client's vector.
#[test]
fn round_with_swift_clients() {
    let Some(bin) = env::var_os("SECAGG_BIN_DIR").map(PathBuf::from) else {
        eprintln!("SECAGG_BIN_DIR (the folder with secagg and secaggd) is not set; skipping");
        return;
    };
    let scratch = Scratch::new("round");
    let folder = &scratch.0;
    let task = "rust-round";
    let coordinator_key = keygen(&bin, folder, "coordinator");
    let identity = Identity::generate().unwrap();
    let rust_key = to_hex(&identity.public_key().unwrap());
    let mut enrolled = vec![rust_key.clone()];
    for index in 0..3 {
        enrolled.push(keygen(&bin, folder, &format!("swift-{index}")));
    }
    fs::write(folder.join("enrolled.txt"), enrolled.join("\n") + "\n").unwrap();
    fs::write(
        folder.join("secaggd.yaml"),
        format!(
            "listen: {{host: 127.0.0.1, port: 0}}\nidentity: coordinator.key\nenrollment: {{file: enrolled.txt}}\n\
             results_directory: results\ntasks:\n  - name: {task}\n    dimension: 4\n    max_input: 1000\n\
             \x20   graph: complete\n    min_clients: 4\n    max_clients: 4\n    rounds: 1\n    gather_seconds: 0.2\n\
             \x20   timeouts: {{advertise: 20, share: 20, masked: 20, unmask: 20}}\n"
        ),
    )
    .unwrap();
    let log_path = folder.join("secaggd.log");
    let log = fs::File::create(&log_path).unwrap();
    let mut daemon = Daemon(
        Command::new(bin.join("secaggd"))
            .arg("--config")
            .arg(folder.join("secaggd.yaml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let mut port = None;
    for _ in 0..200 {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(start) = text.find("address=127.0.0.1:") {
            let digits: String = text[start + 18..].chars().take_while(char::is_ascii_digit).collect();
            port = digits.parse::<u16>().ok();
            if port.is_some() {
                break;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    let port = port.unwrap_or_else(|| panic!("secaggd did not start: {}", fs::read_to_string(&log_path).unwrap()));

    let inputs: [[u64; 4]; 3] = [[1, 10, 100, 7], [2, 11, 101, 7], [3, 12, 102, 7]];
    let mut swift = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let input_path = folder.join(format!("swift-{index}.json"));
        let values: Vec<String> = input.iter().map(u64::to_string).collect();
        fs::write(&input_path, format!("[{}]", values.join(","))).unwrap();
        swift.push(
            Command::new(bin.join("secagg"))
                .args(["participate", "--coordinator", &format!("127.0.0.1:{port}"), "--coordinator-key"])
                .arg(&coordinator_key)
                .arg("--identity")
                .arg(folder.join(format!("swift-{index}.key")))
                .args(["--task", task, "--connect-attempts", "20", "--input"])
                .arg(&input_path)
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }

    let rust_input = [500u64, 600, 700, 800];
    let coordinator = Coordinator {
        host: "127.0.0.1".into(),
        port,
        public_key: from_hex(&coordinator_key).unwrap().try_into().unwrap(),
    };
    // Refusals before the round, each with its own kind.
    let quick = Options { connect_attempts: 20, total_timeout: Some(Duration::from_secs(30)), ..Options::default() };
    let error = participate(&identity, &coordinator, "no-such-task", &rust_input, &quick, None).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UnknownTask, "{error}");
    let stranger = Identity::generate().unwrap();
    let error = participate(&stranger, &coordinator, task, &rust_input, &quick, None).unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotEnrolled, "{error}");
    let options = Options { connect_attempts: 20, total_timeout: Some(Duration::from_secs(120)), ..Options::default() };
    let receipt = participate(&identity, &coordinator, task, &rust_input, &options, None).unwrap();
    assert_eq!(receipt.outcome, Outcome::Completed { survivors: 4 });
    for mut child in swift {
        assert!(child.wait().unwrap().success());
    }
    assert!(daemon.0.wait().unwrap().success());

    let round = to_hex(&receipt.round_id.unwrap());
    let text = fs::read_to_string(folder.join("results").join(task).join(format!("{round}.json"))).unwrap();
    let mut expected = rust_input;
    for input in inputs {
        for (sum, value) in expected.iter_mut().zip(input) {
            *sum += value;
        }
    }
    let expected: Vec<String> = expected.iter().map(u64::to_string).collect();
    assert!(text.contains(r#""outcome":"completed""#), "{text}");
    assert!(text.contains(&format!(r#""sum":[{}]"#, expected.join(","))), "{text}");
    assert!(text.contains(&format!("\"{rust_key}\"")), "the Rust client is not among the survivors: {text}");
}
