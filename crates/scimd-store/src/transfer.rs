//! Moving a tenant between databases (`scimd export` / `scimd import`), for example from
//! SQLite to PostgreSQL, as JSON lines.
//!
//! An export holds everything of one tenant that the server cannot re-derive: its settings,
//! its credentials (hashes only: SHA-256 of bearer tokens, argon2id PHC strings of Basic
//! secrets; never a secret), and every User and Group with its id, version, timestamps,
//! uniqueness key, display column, password hash and stored document, then the membership
//! rows. Importing it reproduces the tenant exactly: the same ids, ETags (versions),
//! `meta.created`/`lastModified`, listing order (resources are written in insertion order)
//! and credentials, so identity providers keep working after a move. Index rows are
//! rebuilt from the documents by the importing store.
//!
//! The format, one JSON object per line, `type` first:
//! ```text
//! {"type":"tenant","format":1,"name":"acme","settings":{…},"created":"…"}
//! {"type":"credential","kind":"bearer","label":"…","clientId":null,"secretHash":"…","created":"…","revoked":false}
//! {"type":"resource","resourceType":"User","id":"…","version":3,"created":"…","modified":"…","uniqueKey":"…","externalId":null,"display":"…","passwordHash":null,"document":{…}}
//! {"type":"member","group":"<group id>","member":"<member id>","memberType":"User","display":null}
//! ```

use std::future::Future;
use std::io::{BufRead, Write};

use scimd_core::schema::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::records::{CredentialKind, Document, Tenant};

/// The version of the format written; readers refuse other versions.
pub const FORMAT: i64 = 1;

/// Everything of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantExport {
    pub name: String,
    pub settings: Value,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
    pub credentials: Vec<ExportedCredential>,
    /// In insertion order.
    pub resources: Vec<ExportedResource>,
    /// After every resource, so each names resources already imported.
    pub members: Vec<ExportedMember>,
}

/// A credential, with its hash (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedCredential {
    pub kind: CredentialKind,
    pub label: String,
    pub client_id: Option<String>,
    pub secret_hash: String,
    pub created: String,
    pub revoked: bool,
}

/// A User or Group with the columns the server derived when writing it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedResource {
    pub kind: ResourceKind,
    pub id: String,
    pub version: i64,
    pub created: String,
    pub modified: String,
    pub unique_key: Option<String>,
    pub external_id: Option<String>,
    pub display: Option<String>,
    pub password_hash: Option<String>,
    pub document: Document,
}

/// One membership row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedMember {
    /// The Group's id.
    pub group: String,
    /// The member's id.
    pub member: String,
    pub member_kind: ResourceKind,
    /// The client's `members[].display`, if it sent one.
    pub display: Option<String>,
}

/// Backends that can export and import whole tenants. Separate from [`crate::Store`]
/// because only the admin CLI needs it.
pub trait Transfer {
    /// Every row of the tenant named `name`, read in one consistent snapshot.
    /// [`StoreError::TenantNotFound`] when there is none.
    fn export_tenant(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<TenantExport, StoreError>> + Send;

    /// Creates the tenant of `export` (under `export.name`) with all its rows, in one
    /// transaction. [`StoreError::TenantExists`] when the name is taken;
    /// [`StoreError::UniqueViolation`] (`clientId`) when a Basic client id is in use by
    /// another tenant; [`StoreError::MemberNotFound`] when a membership names a resource
    /// the export does not contain.
    fn import_tenant(
        &self,
        export: &TenantExport,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;
}

/// One line of the format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Line {
    #[serde(rename_all = "camelCase")]
    Tenant {
        format: i64,
        name: String,
        settings: Value,
        created: String,
    },
    #[serde(rename_all = "camelCase")]
    Credential {
        kind: String,
        label: String,
        client_id: Option<String>,
        secret_hash: String,
        created: String,
        revoked: bool,
    },
    #[serde(rename_all = "camelCase")]
    Resource {
        resource_type: String,
        id: String,
        version: i64,
        created: String,
        modified: String,
        unique_key: Option<String>,
        external_id: Option<String>,
        display: Option<String>,
        password_hash: Option<String>,
        document: Document,
    },
    #[serde(rename_all = "camelCase")]
    Member {
        group: String,
        member: String,
        member_type: String,
        display: Option<String>,
    },
}

/// A failure reading or writing the JSON-lines form.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Line `line` (1-based) is not a valid record, or is out of place.
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
}

fn kind_name(kind: ResourceKind) -> &'static str {
    kind.as_str()
}

fn parse_kind(name: &str) -> Option<ResourceKind> {
    match name {
        "User" => Some(ResourceKind::User),
        "Group" => Some(ResourceKind::Group),
        _ => None,
    }
}

impl TenantExport {
    /// Writes the JSON-lines form.
    pub fn write_json_lines<W: Write>(&self, mut out: W) -> Result<(), TransferError> {
        let mut put = |line: &Line| -> Result<(), TransferError> {
            serde_json::to_writer(&mut out, line).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            Ok(())
        };
        put(&Line::Tenant {
            format: FORMAT,
            name: self.name.clone(),
            settings: self.settings.clone(),
            created: self.created.clone(),
        })?;
        for c in &self.credentials {
            put(&Line::Credential {
                kind: c.kind.as_str().to_owned(),
                label: c.label.clone(),
                client_id: c.client_id.clone(),
                secret_hash: c.secret_hash.clone(),
                created: c.created.clone(),
                revoked: c.revoked,
            })?;
        }
        for r in &self.resources {
            put(&Line::Resource {
                resource_type: kind_name(r.kind).to_owned(),
                id: r.id.clone(),
                version: r.version,
                created: r.created.clone(),
                modified: r.modified.clone(),
                unique_key: r.unique_key.clone(),
                external_id: r.external_id.clone(),
                display: r.display.clone(),
                password_hash: r.password_hash.clone(),
                document: r.document.clone(),
            })?;
        }
        for m in &self.members {
            put(&Line::Member {
                group: m.group.clone(),
                member: m.member.clone(),
                member_type: kind_name(m.member_kind).to_owned(),
                display: m.display.clone(),
            })?;
        }
        out.flush()?;
        Ok(())
    }

    /// Reads the JSON-lines form: a tenant line first, then credentials, resources and
    /// members. Blank lines are ignored.
    pub fn read_json_lines<R: BufRead>(input: R) -> Result<Self, TransferError> {
        let mut export: Option<TenantExport> = None;
        for (n, line) in input.lines().enumerate() {
            let line_no = n + 1;
            let text = line?;
            if text.trim().is_empty() {
                continue;
            }
            let invalid = |message: String| TransferError::Invalid {
                line: line_no,
                message,
            };
            let parsed: Line = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            let Some(ex) = export.as_mut() else {
                let Line::Tenant {
                    format,
                    name,
                    settings,
                    created,
                } = parsed
                else {
                    return Err(invalid("the first record must be the tenant".into()));
                };
                if format != FORMAT {
                    return Err(invalid(format!(
                        "format {format} is not supported (this build reads {FORMAT})"
                    )));
                }
                export = Some(TenantExport {
                    name,
                    settings,
                    created,
                    credentials: Vec::new(),
                    resources: Vec::new(),
                    members: Vec::new(),
                });
                continue;
            };
            match parsed {
                Line::Tenant { .. } => return Err(invalid("a second tenant record".into())),
                Line::Credential {
                    kind,
                    label,
                    client_id,
                    secret_hash,
                    created,
                    revoked,
                } => ex.credentials.push(ExportedCredential {
                    kind: CredentialKind::parse(&kind)
                        .ok_or_else(|| invalid(format!("unknown credential kind {kind}")))?,
                    label,
                    client_id,
                    secret_hash,
                    created,
                    revoked,
                }),
                Line::Resource {
                    resource_type,
                    id,
                    version,
                    created,
                    modified,
                    unique_key,
                    external_id,
                    display,
                    password_hash,
                    document,
                } => ex.resources.push(ExportedResource {
                    kind: parse_kind(&resource_type)
                        .ok_or_else(|| invalid(format!("unknown resourceType {resource_type}")))?,
                    id,
                    version,
                    created,
                    modified,
                    unique_key,
                    external_id,
                    display,
                    password_hash,
                    document,
                }),
                Line::Member {
                    group,
                    member,
                    member_type,
                    display,
                } => ex.members.push(ExportedMember {
                    group,
                    member,
                    member_kind: parse_kind(&member_type)
                        .ok_or_else(|| invalid(format!("unknown memberType {member_type}")))?,
                    display,
                }),
            }
        }
        export.ok_or(TransferError::Invalid {
            line: 0,
            message: "empty input: no tenant record".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn sample() -> TenantExport {
        TenantExport {
            name: "acme".into(),
            settings: json!({"uniqueGroupNames": true}),
            created: "2024-01-01T00:00:00.000Z".into(),
            credentials: vec![ExportedCredential {
                kind: CredentialKind::Basic,
                label: "okta".into(),
                client_id: Some("okta-client".into()),
                secret_hash: "$argon2id$v=19$x".into(),
                created: "2024-01-02T00:00:00.000Z".into(),
                revoked: true,
            }],
            resources: vec![ExportedResource {
                kind: ResourceKind::Group,
                id: "g1".into(),
                version: 4,
                created: "2024-01-03T00:00:00.000Z".into(),
                modified: "2024-01-04T00:00:00.000Z".into(),
                unique_key: Some("staff".into()),
                external_id: None,
                display: Some("Staff".into()),
                password_hash: None,
                document: json!({"displayName": "Staff"}).as_object().unwrap().clone(),
            }],
            members: vec![ExportedMember {
                group: "g1".into(),
                member: "u1".into(),
                member_kind: ResourceKind::User,
                display: Some("Ann".into()),
            }],
        }
    }

    #[test]
    fn json_lines_round_trip() {
        let mut out = Vec::new();
        sample().write_json_lines(&mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(
            text.starts_with("{\"type\":\"tenant\",\"format\":1,"),
            "{text}"
        );
        let back = TenantExport::read_json_lines(&out[..]).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn malformed_input_names_the_line() {
        let err = TenantExport::read_json_lines(&b"{\"type\":\"member\"}\n"[..]).unwrap_err();
        assert!(
            matches!(err, TransferError::Invalid { line: 1, .. }),
            "{err}"
        );
        let mut out = Vec::new();
        sample().write_json_lines(&mut out).unwrap();
        out.extend_from_slice(b"\n{\"type\":\"resource\",\"resourceType\":\"Robot\"}\n");
        let err = TenantExport::read_json_lines(&out[..]).unwrap_err();
        assert!(
            matches!(err, TransferError::Invalid { line: 6, .. }),
            "{err}"
        );
        let future =
            "{\"type\":\"tenant\",\"format\":2,\"name\":\"a\",\"settings\":{},\"created\":\"x\"}";
        assert!(TenantExport::read_json_lines(future.as_bytes()).is_err());
        assert!(TenantExport::read_json_lines(&b""[..]).is_err());
    }
}
