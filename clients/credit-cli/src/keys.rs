//! `credit keys create|list|revoke` (admin keys): API keys through the service, printing what
//! `credit-server keys` prints. New keys and revocations are in force at once.

use std::process::ExitCode;

use anyhow::Result;
use credit_client::proto;

use crate::connection::{Connection, block_on};

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its token once (the platform keeps only a hash of it).
    Create {
        /// public, provider, regulator, admin or subject.
        #[arg(long)]
        role: String,
        /// The unified social credit code a subject key is bound to (required for `--role subject`).
        #[arg(long)]
        code: Option<String>,
        /// The department the key acts for (required for providers).
        #[arg(long)]
        dept: Option<String>,
        /// A note on who holds the key.
        #[arg(long)]
        label: Option<String>,
        /// The object `credit-server keys create` prints, on one line.
        #[arg(long)]
        json: bool,
    },
    /// Every key, revoked ones included (never a token).
    List {
        /// One object per key, as `credit-server keys list` prints them.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id; calls with it fail with UNAUTHENTICATED from then on.
    Revoke {
        id: String,
        /// The revoked key as `credit-server keys revoke` prints it.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &KeysCommand, connection: &Connection) -> Result<ExitCode> {
    block_on(async {
        let client = connection.connect().await?;
        match command {
            KeysCommand::Create { role, dept, label, code, json } => {
                let request = proto::CreateApiKeyRequest {
                    role: role.clone(),
                    dept: dept.clone().unwrap_or_default(),
                    label: label.clone().unwrap_or_default(),
                    code: code.clone().unwrap_or_default(),
                };
                let created = client.create_api_key(request).await?;
                eprintln!("credit: the token is shown only now; store it safely");
                if *json {
                    println!("{}", created.json);
                } else {
                    if let Some(key) = &created.key {
                        println!("{}", key_line(key));
                    }
                    println!("token: {}", created.token);
                }
            }
            KeysCommand::List { json } => {
                for key in client.list_api_keys().await? {
                    if *json { println!("{}", key.json) } else { println!("{}", key_line(&key)) }
                }
            }
            KeysCommand::Revoke { id, json } => {
                let key = client.revoke_api_key(id).await?;
                if *json { println!("{}", key.json) } else { println!("{}", key_line(&key)) }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn key_line(key: &proto::ApiKey) -> String {
    let state = if key.revoked_at.is_some() { "revoked" } else { "active" };
    let dept = if key.dept.is_empty() { "-" } else { key.dept.as_str() };
    format!("{:<20}  {:<9}  {:<7}  {dept}  {}", key.id, key.role, state, key.label)
}
