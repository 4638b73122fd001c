//! Joins one round of a secagg coordinator with a vector and prints how it ended.
//!
//! cargo run --example participate -- HOST:PORT COORDINATOR_KEY_HEX IDENTITY_FILE TASK V1,V2,...
//!
//! Exit status: 0 completed, 3 aborted, 1 any error (its message names its class, e.g. "not enrolled").
use secagg::{from_hex, participate, to_hex, Coordinator, ErrorKind, Identity, Options, Outcome};
use std::process::ExitCode;

fn run(arguments: &[String]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let [address, key, identity_path, task, input] = arguments else {
        return Err("usage: participate HOST:PORT COORDINATOR_KEY_HEX IDENTITY_FILE TASK V1,V2,...".into());
    };
    let (host, port) = address.rsplit_once(':').ok_or("the coordinator must be HOST:PORT")?;
    let public_key =
        from_hex(key).and_then(|key| key.try_into().ok()).ok_or("the coordinator key must be 64 hex digits")?;
    let input = input.split(',').map(|value| value.trim().parse::<u64>()).collect::<Result<Vec<_>, _>>()?;
    let identity = Identity::load(identity_path)?;
    let coordinator = Coordinator { host: host.into(), port: port.parse()?, public_key };
    let options = Options { connect_attempts: 20, ..Options::default() };
    let receipt = match participate(&identity, &coordinator, task, &input, &options, None) {
        Err(error) if error.kind == ErrorKind::NotEnrolled => {
            return Err(format!("{error}; enroll this key: {}", to_hex(&identity.public_key()?)).into())
        }
        other => other?,
    };
    let round = receipt.round_id.map(|id| to_hex(&id)).unwrap_or_default();
    match receipt.outcome {
        Outcome::Completed { survivors } => {
            println!("round {round} completed: {survivors} inputs in the sum");
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Aborted { code, reason } => {
            println!("round {round} aborted (0x{code:04x}): {reason}");
            Ok(ExitCode::from(3))
        }
    }
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    run(&arguments).unwrap_or_else(|error| {
        eprintln!("participate: {error}");
        ExitCode::FAILURE
    })
}
