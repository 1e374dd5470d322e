//! `customs image …` and `customs sbom`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::args::{ImageCmd, SbomFormat};
use crate::client::{digest_of, is_digest, segment, str_at};
use crate::evaluate::{self, Check};
use crate::output::{
    Cell, Colour, Table, fields, print_json, severity_colour, status_colour, text,
};
use crate::progress::{Progress, describe};
use crate::{Ctx, Error, Outcome};

const POLL: Duration = Duration::from_millis(500);

pub(crate) async fn run(ctx: &Ctx, cmd: ImageCmd) -> Result<Outcome, Error> {
    match cmd {
        ImageCmd::Add {
            reference,
            tag,
            force,
            noautosubscribe,
            platform,
            annotations,
            wait,
            timeout,
        } => {
            let mut ann = serde_json::Map::new();
            for a in &annotations {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| Error::Usage(format!("annotation {a:?} is not KEY=VALUE")))?;
                ann.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            let archive = archive_of(&reference)?;
            if archive.is_none() && tag.is_some() {
                return Err(Error::Usage(
                    "--tag names an uploaded archive; a registry image is listed under its own reference".into(),
                ));
            }
            let source = match &archive {
                Some((path, format)) => {
                    if wait && tag.is_none() {
                        return Err(Error::Usage(format!(
                            "--wait with {format}:{} needs --tag registry/repo:tag to find the image by",
                            path.display()
                        )));
                    }
                    let upload_id = upload(ctx, path).await?;
                    json!({ "archive": { "upload_id": upload_id, "format": format, "tag": tag } })
                }
                None if reference.contains('@') => json!({ "digest": { "pullstring": reference } }),
                None => json!({ "tag": { "pullstring": reference } }),
            };
            let mut body = json!({ "source": source, "annotations": ann });
            if let (Some(p), Some(o)) = (platform, body.as_object_mut()) {
                o.insert("platform".into(), Value::String(p));
            }
            let query = [
                ("autosubscribe", (!noautosubscribe).to_string()),
                ("force", force.to_string()),
            ];
            let added = ctx.client.post("/images", &query, &body).await?;
            let rec = first(&added, "/images")?;
            if !wait {
                if ctx.style.json {
                    print_json(&added);
                } else {
                    out!("{}", image_fields(ctx, &rec));
                }
                return Ok(Outcome::Ok);
            }
            let lookup = match (&archive, tag) {
                (Some(_), Some(t)) => t,
                _ => lookup_key(&reference, &rec),
            };
            wait_and_report(ctx, &lookup, timeout).await
        }
        ImageCmd::Wait { image, timeout } => wait_and_report(ctx, &image, timeout).await,
        ImageCmd::List { full } => {
            let list = ctx.client.get("/images", &[]).await?;
            if ctx.style.json {
                print_json(&list);
                return Ok(Outcome::Ok);
            }
            // One row per tag: the newest digest, unless --full.
            let mut rows: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
            for rec in list.as_array().into_iter().flatten() {
                let digest = str_at(rec, "imageDigest").to_owned();
                let status = str_at(rec, "analysis_status").to_owned();
                for d in rec
                    .get("image_detail")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let tag = str_at(d, "fulltag").to_owned();
                    let created = str_at(d, "created_at").to_owned();
                    let key = (tag, if full { digest.clone() } else { String::new() });
                    if rows.get(&key).is_none_or(|(c, _, _)| *c < created) {
                        rows.insert(key, (created, digest.clone(), status.clone()));
                    }
                }
            }
            let mut t = Table::new(&["Full Tag", "Image Digest", "Analysis Status"]);
            for ((tag, _), (_, digest, status)) in rows {
                t.row(vec![
                    tag.into(),
                    digest.into(),
                    Cell::coloured(status.clone(), status_colour(&status)),
                ]);
            }
            out!("{}", t.render(&ctx.style));
            Ok(Outcome::Ok)
        }
        ImageCmd::Get { image } => {
            let rec = ctx.client.image(&image).await?;
            if ctx.style.json {
                print_json(&json!([rec]));
            } else {
                out!("{}", image_fields(ctx, &rec));
            }
            Ok(Outcome::Ok)
        }
        ImageCmd::Content {
            image,
            content_type,
        } => {
            let digest = ctx.client.digest(&image).await?;
            let path = image_path(&digest, "content", content_type.as_deref());
            let v = ctx.client.get(&path, &[]).await?;
            if ctx.style.json {
                print_json(&v);
            } else if content_type.is_none() {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .for_each(|t| outln!("{}", text(t)));
            } else {
                out!(
                    "{}",
                    content_table(ctx, content_type.as_deref().unwrap_or_default(), &v)
                );
            }
            Ok(Outcome::Ok)
        }
        ImageCmd::Metadata {
            image,
            metadata_type,
        } => {
            let digest = ctx.client.digest(&image).await?;
            let path = image_path(&digest, "metadata", metadata_type.as_deref());
            let v = ctx.client.get(&path, &[]).await?;
            if ctx.style.json {
                print_json(&v);
            } else if metadata_type.is_none() {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .for_each(|t| outln!("{}", text(t)));
            } else {
                let b64: String = str_at(&v, "metadata")
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| Error::Unexpected {
                        path,
                        reason: format!("metadata is not base64: {e}"),
                    })?;
                outln!("{}", String::from_utf8_lossy(&raw));
            }
            Ok(Outcome::Ok)
        }
        ImageCmd::Vuln {
            image,
            vuln_type,
            vendor_only,
        } => {
            let digest = ctx.client.digest(&image).await?;
            let v = ctx
                .client
                .get(
                    &format!("/images/{}/vuln/{}", segment(&digest), segment(&vuln_type)),
                    &[("vendor_only", vendor_only.to_string())],
                )
                .await?;
            if ctx.style.json {
                print_json(&v);
                return Ok(Outcome::Ok);
            }
            let mut vulns: Vec<&Value> = v
                .get("vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            vulns.sort_by(|a, b| {
                severity_rank(str_at(b, "severity"))
                    .cmp(&severity_rank(str_at(a, "severity")))
                    .then(str_at(a, "vuln").cmp(str_at(b, "vuln")))
            });
            let mut t = Table::new(&[
                "Vulnerability ID",
                "Package",
                "Severity",
                "Fix",
                "Package Type",
                "Feed Group",
                "URL",
            ]);
            for x in vulns {
                let sev = str_at(x, "severity");
                t.row(vec![
                    str_at(x, "vuln").into(),
                    str_at(x, "package").into(),
                    Cell::coloured(sev, severity_colour(sev)),
                    str_at(x, "fix").into(),
                    str_at(x, "package_type").into(),
                    str_at(x, "feed_group").into(),
                    str_at(x, "url").into(),
                ]);
            }
            if t.is_empty() {
                outln!("No vulnerabilities found.");
            } else {
                out!("{}", t.render(&ctx.style));
            }
            Ok(Outcome::Ok)
        }
        ImageCmd::Del { image, force } => {
            let digest = ctx.client.digest(&image).await?;
            let v = ctx
                .client
                .delete(
                    &format!("/images/{}", segment(&digest)),
                    &[("force", force.to_string())],
                )
                .await?;
            if str_at(&v, "status") != "deleting" {
                return Err(Error::Api {
                    status: 200,
                    message: format!(
                        "could not delete {digest}: {}",
                        text(v.get("detail").unwrap_or(&Value::Null))
                    ),
                    body: v,
                });
            }
            if ctx.style.json {
                print_json(&v);
            } else {
                outln!("Success: {digest} deleted");
            }
            Ok(Outcome::Ok)
        }
    }
}

/// What to poll an added image by: its digest if the add resolved it, else the reference.
/// The archive an `image add` reference names (`docker-archive:PATH`, `oci-archive:PATH`),
/// with the API's name for its format; `None` for a registry reference.
fn archive_of(reference: &str) -> Result<Option<(std::path::PathBuf, &'static str)>, Error> {
    use customs_image::ImageSource;
    match ImageSource::parse(reference) {
        Ok(ImageSource::DockerArchive {
            path,
            reference: None,
        }) => Ok(Some((path, "docker-archive"))),
        Ok(ImageSource::OciArchive {
            path,
            reference: None,
        }) => Ok(Some((path, "oci-archive"))),
        Ok(
            ImageSource::DockerArchive {
                reference: Some(r), ..
            }
            | ImageSource::OciArchive {
                reference: Some(r), ..
            },
        ) => Err(Error::Usage(format!(
            "{reference}: an uploaded archive must hold one image (the :{r} selector is for `customs scan`); use --tag to name it"
        ))),
        Ok(ImageSource::OciDir { path, .. }) => Err(Error::Usage(format!(
            "{}: upload a tar of the OCI layout (oci-archive:PATH), not the directory",
            path.display()
        ))),
        // Registry references (and anything else) are the API's to judge.
        Ok(ImageSource::Registry(_)) | Err(_) => Ok(None),
    }
}

/// Uploads an archive through `POST /v1/images/uploads`: the body goes straight to the
/// presigned URL (streamed from the file), never through the API. Returns the upload id.
async fn upload(ctx: &Ctx, path: &std::path::Path) -> Result<String, Error> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(path.display(), e))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| Error::io(path.display(), e))?
        .len();
    let grant = ctx
        .client
        .post("/images/uploads", &[], &Value::Null)
        .await?;
    let (Some(id), Some(url)) = (
        grant.get("upload_id").and_then(Value::as_str),
        grant.get("url").and_then(Value::as_str),
    ) else {
        return Err(Error::Unexpected {
            path: "/images/uploads".into(),
            reason: "no upload_id and url".into(),
        });
    };
    // Big archives take longer than an API call may.
    let mut req = ctx
        .client
        .raw()
        .put(url)
        .header("Content-Length", size)
        .timeout(std::time::Duration::from_secs(6 * 3600));
    for (k, v) in grant
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(v) = v.as_str() {
            req = req.header(k.as_str(), v);
        }
    }
    let body =
        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
    let transport = |source| Error::Transport {
        url: "the upload URL".into(),
        source,
    };
    let resp = req.body(body).send().await.map_err(transport)?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        return Err(Error::Api {
            status,
            message: format!("upload of {} refused: {}", path.display(), text.trim()),
            body: Value::Null,
        });
    }
    Ok(id.to_owned())
}

fn lookup_key(reference: &str, rec: &Value) -> String {
    match digest_of(rec) {
        Some(d) if reference.contains('@') => d,
        _ => reference.to_owned(),
    }
}

pub(crate) fn first(v: &Value, path: &str) -> Result<Value, Error> {
    v.as_array()
        .and_then(|a| a.first())
        .cloned()
        .ok_or_else(|| Error::Unexpected {
            path: path.into(),
            reason: "expected a non-empty list".into(),
        })
}

pub(crate) fn severity_rank(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "critical" => 6,
        "high" => 5,
        "medium" => 4,
        "low" => 3,
        "negligible" => 2,
        "unknown" => 1,
        _ => 0,
    }
}

fn image_fields(ctx: &Ctx, rec: &Value) -> String {
    let meta = rec
        .pointer("/image_content/metadata")
        .cloned()
        .unwrap_or(Value::Null);
    let m = |k: &str| text(meta.get(k).unwrap_or(&Value::Null));
    let status = str_at(rec, "analysis_status");
    let mut pairs: Vec<(&str, Cell)> = vec![
        ("Image Digest", str_at(rec, "imageDigest").into()),
        (
            "Analysis Status",
            Cell::coloured(status, status_colour(status)),
        ),
    ];
    if let Some(e) = rec.get("analysis_error").and_then(Value::as_str) {
        pairs.push(("Analysis Error", Cell::coloured(e, Some(Colour::Red))));
    }
    let image_id = rec
        .pointer("/image_detail/0/imageId")
        .map(text)
        .unwrap_or_default();
    let distro = format!("{} {}", m("distro"), m("distro_version"))
        .trim()
        .to_owned();
    pairs.extend([
        (
            "Analyzed At",
            text(rec.get("analyzed_at").unwrap_or(&Value::Null)).into(),
        ),
        ("Image ID", image_id.into()),
        ("Distro", distro.into()),
        ("Size", m("image_size").into()),
        ("Architecture", m("arch").into()),
        ("Layer Count", m("layer_count").into()),
    ]);
    let tags: Vec<String> = rec
        .get("image_detail")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| str_at(d, "fulltag").to_owned())
        .collect();
    let tags = tags.join(", ");
    pairs.push(("Full Tag", tags.into()));
    fields(&ctx.style, &pairs)
}

fn content_table(ctx: &Ctx, ctype: &str, v: &Value) -> String {
    let items: Vec<&Value> = v
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut t = match ctype {
        "files" => Table::new(&["Filename", "Size"]),
        "os" => Table::new(&["Package", "Version", "Type", "Licenses"]),
        _ => Table::new(&["Package", "Version", "Type", "Location"]),
    };
    for x in items {
        let row: Vec<Cell> = match ctype {
            "files" => vec![
                str_at(x, "filename").into(),
                text(x.get("size").unwrap_or(&Value::Null)).into(),
            ],
            "os" => {
                let lic = x
                    .get("licenses")
                    .and_then(Value::as_array)
                    .map(|l| l.iter().map(text).collect::<Vec<_>>().join(" "))
                    .unwrap_or_else(|| str_at(x, "license").to_owned());
                vec![
                    str_at(x, "package").into(),
                    str_at(x, "version").into(),
                    str_at(x, "type").into(),
                    lic.into(),
                ]
            }
            _ => {
                let version = ["version", "implementation-version", "specification-version"]
                    .iter()
                    .map(|k| str_at(x, k))
                    .find(|s| !s.is_empty() && *s != "N/A")
                    .unwrap_or_default();
                vec![
                    str_at(x, "package").into(),
                    version.into(),
                    str_at(x, "type").into(),
                    str_at(x, "location").into(),
                ]
            }
        };
        t.row(row);
    }
    if t.is_empty() {
        format!("No {ctype} content.\n")
    } else {
        t.render(&ctx.style)
    }
}

/// Polls an image until its analysis ends and its evaluation exists, with a live
/// display; returns the analysed record and the check.
pub(crate) async fn wait_for(
    ctx: &Ctx,
    image: &str,
    timeout: u64,
) -> Result<(Value, Check), Error> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(timeout);
    let mut progress = Progress::new();
    let result = async {
        // By the reference until the digest is known, then by digest (where the API
        // reports the staging progress).
        let mut lookup = image.to_owned();
        let rec = loop {
            let rec = ctx.client.find_image(&lookup).await?;
            if let Some(d) = rec.as_ref().and_then(digest_of) {
                lookup = d;
            }
            match rec {
                Some(rec) => match str_at(&rec, "analysis_status") {
                    "analyzed" => break rec,
                    "analysis_failed" => {
                        return Err(Error::AnalysisFailed {
                            image: image.to_owned(),
                            reason: rec
                                .get("analysis_error")
                                .map(text)
                                .filter(|e| !e.is_empty())
                                .unwrap_or_else(|| "no reason recorded".into()),
                        });
                    }
                    _ => progress.show(&describe(&rec)),
                },
                None => progress.show("waiting for the image record"),
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    seconds: timeout,
                    what: format!("the analysis of {image}"),
                });
            }
            tokio::time::sleep(POLL).await;
        };
        progress.done(&format!(
            "analysed {} ({} layers, {} bytes)",
            str_at(&rec, "imageDigest"),
            text(
                rec.pointer("/image_content/metadata/layer_count")
                    .unwrap_or(&Value::Null)
            ),
            text(
                rec.pointer("/image_content/metadata/image_size")
                    .unwrap_or(&Value::Null)
            )
        ));
        let tag = if is_digest(image) || image.contains('@') {
            None
        } else {
            Some(image.to_owned())
        };
        let check =
            evaluate::check_with_wait(ctx, &rec, tag, None, true, deadline, timeout, &mut |s| {
                progress.show(s)
            })
            .await?;
        progress.done(&format!(
            "evaluated against policy {}: {}",
            check.policy_id, check.status
        ));
        Ok((rec, check))
    }
    .await;
    if result.is_err() {
        progress.clear();
    }
    result
}

async fn wait_and_report(ctx: &Ctx, image: &str, timeout: u64) -> Result<Outcome, Error> {
    let (rec, check) = wait_for(ctx, image, timeout).await?;
    if ctx.style.json {
        print_json(&json!({ "image": rec, "check": check.raw }));
    } else {
        out!("{}", image_fields(ctx, &rec));
        outln!();
        out!("{}", evaluate::check_fields(ctx, &check, false));
    }
    Ok(Outcome::from_verdict(&check.status))
}

pub(crate) async fn sbom(
    ctx: &Ctx,
    image: &str,
    format: SbomFormat,
    output: Option<&Path>,
) -> Result<Outcome, Error> {
    let digest = ctx.client.digest(image).await?;
    let doc = ctx
        .client
        .get(
            &format!("/images/{}/sbom/{}", segment(&digest), format.api_name()),
            &[],
        )
        .await?;
    let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::Unexpected {
        path: "sbom".into(),
        reason: e.to_string(),
    })?;
    match output {
        Some(p) => {
            std::fs::write(p, format!("{text}\n")).map_err(|e| Error::io(p.display(), e))?;
            eprintln!(
                "Wrote the {} SBOM of {digest} to {}",
                format.api_name(),
                p.display()
            );
        }
        None => outln!("{text}"),
    }
    Ok(Outcome::Ok)
}

/// `/images/{digest}/{what}[/{sub}]`, each segment encoded.
fn image_path(digest: &str, what: &str, sub: Option<&str>) -> String {
    let sub = sub.map(|t| format!("/{}", segment(t))).unwrap_or_default();
    format!("/images/{}/{what}{sub}", segment(digest))
}
