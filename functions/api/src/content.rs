//! `/v1/images/{digest}/content[/{type}]`: packages by type and the file index, in the
//! shapes anchore-cli prints (`API-CONTRACT.md` §3 Content).

use axum::extract::{Path, State};
use axum::{Extension, Json};

use crate::routes::{Api, Operation};
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

fn file_type(kind: &str) -> &'static str {
    match kind {
        "dir" => "dir",
        "symlink" => "slink",
        "hardlink" => "hlink",
        "char_device" => "chr",
        "block_device" => "blk",
        "fifo" => "fifo",
        _ => "file",
    }
}

fn render_file(f: &Value) -> Value {
    let mode = f["mode"].as_u64().unwrap_or(0);
    json!({
        "filename": format!("/{}", f["path"].as_str().unwrap_or_default()),
        "gid": f["gid"],
        "uid": f["uid"],
        "linkdest": f.get("link").cloned().unwrap_or(Value::Null),
        "mode": format!("{:05o}", mode & 0o7777),
        "sha256": f.get("sha256").cloned().unwrap_or(Value::Null),
        "size": f["size"],
        "type": file_type(f["kind"].as_str().unwrap_or_default()),
    })
}

async fn one(
    State(deps): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((digest, ctype)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let img = analyzed(&deps, &caller.account, &digest).await?;
    if !TYPES.contains(&ctype.as_str()) {
        return Err(ApiError::NotFound(format!("content type ({ctype}) not available")));
    }
    let content: Vec<Value> = match ctype.as_str() {
        "files" => {
            let files = deps.store.image_files(img.id).await?.unwrap_or_else(|| json!([]));
            files.as_array().map(|a| a.iter().map(render_file).collect()).unwrap_or_default()
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
    Ok(Json(json!({ "imageDigest": digest, "content_type": ctype, "content": content })))
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
