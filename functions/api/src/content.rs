//! `/v1/images/{digest}/content[/{type}]`: packages by type and the file index, in the
//! shapes anchore-cli prints (`API-CONTRACT.md` §3 Content).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::routes::{Api, Operation};
use customs_model::fs::{FileDigest, FileEntry, FileKind};
use customs_model::package::{Package, PackageType};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::metadata::analyzed;
use crate::{ApiError, AppState};

const TYPES: [&str; 13] = ["os", "files", "npm", "gem", "python", "java", "binary", "go", "rust", "nuget", "php", "malware", "dotnet"];

pub(crate) fn routes(api: Api) -> Api {
    api.op(Operation::get("/images/{digest}/content", "Content types of an analysed image").tag("Images"), list)
        .op(Operation::get("/images/{digest}/content/{ctype}", "Content of one type (os, files, npm, gem, python, java, go, …)").tag("Images"), one)
}

async fn list(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(digest): Path<String>,
) -> Result<Json<Value>, ApiError> {
    analyzed(&deps, &caller.account, &digest).await?;
    Ok(Json(json!(TYPES)))
}

fn licenses(p: &Package) -> (Value, Value) {
    let joined = if p.licenses.is_empty() { "Unknown".to_owned() } else { p.licenses.join(" ") };
    (json!(joined), json!(if p.licenses.is_empty() { vec!["Unknown".to_owned()] } else { p.licenses.clone() }))
}

fn location(p: &Package) -> String {
    p.locations.first().map_or_else(|| "/".to_owned(), |l| format!("/{}", l.path.trim_start_matches('/')))
}

fn render(p: &Package) -> Value {
    let (license, licenses) = licenses(p);
    match p.kind {
        PackageType::Dpkg | PackageType::Apkg | PackageType::Rpm => json!({
            "package": p.name,
            "version": p.version,
            "size": p.metadata.get("installed_size").cloned().unwrap_or_else(|| "0".into()),
            "type": if p.kind == PackageType::Apkg { "APKG".to_owned() } else { p.kind.as_str().to_owned() },
            "origin": p.origin.clone().unwrap_or_else(|| "N/A".into()),
            "license": license,
            "licenses": licenses,
            "cpes": p.cpes,
            "sourcepkg": p.source_name.clone().unwrap_or_else(|| p.name.clone()),
        }),
        PackageType::Java => json!({
            "package": p.name,
            "type": "JAVA-JAR",
            "location": location(p),
            "specification-version": p.metadata.get("specification_version").cloned().unwrap_or_else(|| "N/A".into()),
            "implementation-version": p.metadata.get("implementation_version").cloned().unwrap_or_else(|| "N/A".into()),
            "maven-version": p.metadata.get("maven_version").cloned().unwrap_or_else(|| p.version.clone()),
            "origin": p.origin.clone().unwrap_or_else(|| "N/A".into()),
            "cpes": p.cpes,
            "metadata": p.metadata,
            "version": p.version,
        }),
        _ => json!({
            "package": p.name,
            "type": p.kind.as_str().to_uppercase(),
            "location": location(p),
            "version": p.version,
            "origin": p.origin.clone().unwrap_or_else(|| "N/A".into()),
            "license": license,
            "licenses": licenses,
            "cpes": p.cpes,
            "purl": p.purl,
        }),
    }
}

fn file_type(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Dir => "dir",
        FileKind::Symlink => "slink",
        FileKind::Hardlink => "hlink",
        FileKind::CharDevice => "chr",
        FileKind::BlockDevice => "blk",
        FileKind::Fifo => "fifo",
        FileKind::File => "file",
    }
}

/// One file as anchore-cli prints it, borrowed from the recorded index.
#[derive(serde::Serialize)]
struct FileRow<'a> {
    filename: String,
    gid: u64,
    uid: u64,
    linkdest: Option<&'a str>,
    mode: String,
    sha256: Option<FileDigest>,
    size: u64,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn render_file(f: &FileEntry) -> FileRow<'_> {
    FileRow {
        filename: format!("/{}", f.path),
        gid: f.gid,
        uid: f.uid,
        linkdest: f.link.as_deref(),
        mode: format!("{:05o}", f.mode & 0o7777),
        sha256: f.sha256,
        size: f.size,
        kind: file_type(f.kind),
    }
}

/// The body of `content/{type}`, written straight from typed rows.
#[derive(serde::Serialize)]
struct ContentDoc<'a, T> {
    #[serde(rename = "imageDigest")]
    image_digest: &'a str,
    content_type: &'a str,
    content: Vec<T>,
}

async fn one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((digest, ctype)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let img = analyzed(&deps, &caller.account, &digest).await?;
    if !TYPES.contains(&ctype.as_str()) {
        return Err(ApiError::NotFound(format!("content type ({ctype}) not available")));
    }
    let content: Vec<Value> = match ctype.as_str() {
        "files" => {
            // Parsed into typed entries and rendered from them: as a `Value` tree, the
            // index of an image with 300 000 files takes over a gigabyte.
            let text = deps.store.image_files_text(img.id).await?;
            let files: Vec<FileEntry> = match text.as_deref() {
                Some(t) => serde_json::from_str(t).map_err(|e| ApiError::Internal(format!("the recorded file index of {digest} is unreadable: {e}")))?,
                None => Vec::new(),
            };
            let content = files.iter().map(render_file).collect();
            return Ok(Json(ContentDoc { image_digest: &digest, content_type: &ctype, content }).into_response());
        }
        "malware" => Vec::new(),
        t => {
            let want = |p: &Package| match t {
                "os" => p.kind.is_os(),
                "dotnet" | "nuget" => p.kind == PackageType::Nuget,
                other => p.kind.as_str() == other,
            };
            deps.store.image_packages(img.id).await?.iter().filter(|p| want(p)).map(render).collect()
        }
    };
    Ok(Json(ContentDoc { image_digest: &digest, content_type: &ctype, content }).into_response())
}

/// `GET /v1/images/{digest}/sbom/{cyclonedx-json|spdx-json}`: the catalog as an SBOM.
pub(crate) fn sbom_routes(api: Api) -> Api {
    api.op(Operation::get("/images/{digest}/sbom/{format}", "SBOM of an analysed image: cyclonedx-json or spdx-json").tag("Images"), sbom)
}

async fn sbom(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((digest, format)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let img = analyzed(&deps, &caller.account, &digest).await?;
    let packages = deps.store.image_packages(img.id).await?;
    let distro = match (&img.distro, &img.distro_version, &img.distro_namespace) {
        (Some(id), Some(version), Some(namespace)) => Some(customs_model::package::Distro {
            id: id.clone(),
            version: version.clone(),
            namespace: namespace.clone(),
            id_like: Vec::new(),
            pretty_name: None,
        }),
        _ => None,
    };
    let catalog = customs_catalog::Catalog { distro, packages, unknowns: Vec::new() };
    let name = img.tags.first().map_or_else(|| digest.clone(), |t| format!("{}/{}:{}", t.registry, t.repo, t.tag));
    let meta = customs_catalog::ImageMetadata {
        digest: digest.clone(),
        name,
        created: crate::render::ts(img.analyzed_at.unwrap_or(img.created_at)),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let doc = match format.as_str() {
        "cyclonedx-json" => customs_catalog::cyclonedx_json(&catalog, &meta),
        "spdx-json" => customs_catalog::spdx_json(&catalog, &meta),
        other => return Err(ApiError::NotFound(format!("SBOM format ({other}) not available; use cyclonedx-json or spdx-json"))),
    };
    doc.map(Json).map_err(|e| ApiError::Internal(e.to_string()))
}
