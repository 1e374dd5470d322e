//! Records in the shapes Anchore's API returns (`API-CONTRACT.md` §3).

use customs_model::AnalysisStatus;
use customs_store::{ImageRecord, ImageSummary, LayerRecord, TagRecord};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// ISO-8601 UTC with a `Z`, whole seconds, as Anchore prints times.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    Ts(t).to_string()
}

/// A time as [`ts`] prints it, serialised without an allocation (a list of 10 000 images
/// writes 60 000 of them).
#[derive(Clone, Copy)]
pub(crate) struct Ts(pub OffsetDateTime);

impl Ts {
    /// The 20 bytes of `YYYY-MM-DDTHH:MM:SSZ`, for years 0 to 9999 (all others: `None`).
    fn ascii(self) -> Option<[u8; 20]> {
        let t = self.0.to_offset(time::UtcOffset::UTC);
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, u32::from(u8::from(t.month())));
        put(8, 2, u32::from(t.day()));
        put(11, 2, u32::from(t.hour()));
        put(14, 2, u32::from(t.minute()));
        put(17, 2, u32::from(t.second()));
        Some(out)
    }
}

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(a) = self.ascii() {
            return f.write_str(std::str::from_utf8(&a).map_err(|_| std::fmt::Error)?);
        }
        let t = self.0.to_offset(time::UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.ascii().as_ref().and_then(|a| std::str::from_utf8(a).ok()) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

/// `registry/repo` joined to a tag (`:`) or a digest (`@`), written where it is serialised.
struct Full<'a>(&'a str, &'a str, char, &'a str);

impl std::fmt::Display for Full<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_str(self.0)?;
        f.write_char('/')?;
        f.write_str(self.1)?;
        f.write_char(self.2)?;
        f.write_str(self.3)
    }
}

impl Serialize for Full<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A number Anchore prints as a string.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// `AnchoreImage`, serialised straight from a record or a list summary (lists of
/// thousands of images are written without building a JSON tree or a string per field).
/// `analysis_error` is customs' addition: why the analysis failed.
#[derive(Serialize)]
pub(crate) struct ImageView<'a> {
    #[serde(rename = "imageDigest")]
    image_digest: Option<&'a str>,
    #[serde(rename = "parentDigest")]
    parent_digest: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: &'a str,
    image_type: &'static str,
    analysis_status: &'static str,
    analysis_error: Option<&'a str>,
    image_status: &'static str,
    analyzed_at: Option<Ts>,
    created_at: Ts,
    last_updated: Ts,
    annotations: &'a Value,
    record_version: Text<i32>,
    image_content: ImageContent<'a>,
    image_detail: Details<'a>,
}

#[derive(Serialize)]
struct ImageContent<'a> {
    metadata: ImageMetadata<'a>,
}

#[derive(Serialize)]
struct ImageMetadata<'a> {
    arch: Option<&'a str>,
    distro: Option<&'a str>,
    distro_version: Option<&'a str>,
    dockerfile_mode: &'static str,
    image_size: Option<i64>,
    layer_count: Option<i32>,
}

/// `image_detail`: one entry per tag, each written as it is serialised.
struct Details<'a> {
    tags: &'a [TagRecord],
    digest: Option<&'a str>,
    image_id: Option<&'a str>,
    user_id: &'a str,
}

impl Serialize for Details<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.tags.len()))?;
        for t in self.tags {
            seq.serialize_element(&ImageDetail {
                registry: &t.registry,
                repo: &t.repo,
                tag: &t.tag,
                fulltag: Full(&t.registry, &t.repo, ':', &t.tag),
                fulldigest: self.digest.map(|d| Full(&t.registry, &t.repo, '@', d)),
                digest: self.digest,
                image_digest: self.digest,
                image_id: self.image_id,
                tag_detected_at: Ts(t.tag_detected_at),
                created_at: Ts(t.created_at),
                last_updated: Ts(t.last_updated),
                dockerfile: None,
                user_id: self.user_id,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct ImageDetail<'a> {
    registry: &'a str,
    repo: &'a str,
    tag: &'a str,
    fulltag: Full<'a>,
    fulldigest: Option<Full<'a>>,
    digest: Option<&'a str>,
    #[serde(rename = "imageDigest")]
    image_digest: Option<&'a str>,
    #[serde(rename = "imageId")]
    image_id: Option<&'a str>,
    tag_detected_at: Ts,
    created_at: Ts,
    last_updated: Ts,
    dockerfile: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: &'a str,
}

pub(crate) fn image_view(img: &ImageRecord) -> ImageView<'_> {
    let analyzed = img.analysis_status == AnalysisStatus::Analyzed;
    let digest = img.image_digest.as_deref();
    ImageView {
        image_digest: digest,
        parent_digest: img.parent_digest.as_deref(),
        user_id: &img.account,
        image_type: "docker",
        analysis_status: img.analysis_status.as_str(),
        analysis_error: img.analysis_error.as_deref(),
        image_status: img.image_status.as_str(),
        analyzed_at: img.analyzed_at.map(Ts),
        created_at: Ts(img.created_at),
        last_updated: Ts(img.last_updated),
        annotations: &img.annotations,
        record_version: Text(img.record_version),
        image_content: ImageContent {
            metadata: ImageMetadata {
                arch: img.arch.as_deref(),
                distro: img.distro.as_deref(),
                distro_version: img.distro_version.as_deref(),
                dockerfile_mode: if analyzed { "Guessed" } else { "Unknown" },
                image_size: img.image_size,
                layer_count: img.layer_count,
            },
        },
        image_detail: Details {
            tags: &img.tags,
            digest,
            image_id: img.config_digest.as_deref().map(|d| d.trim_start_matches("sha256:")),
            user_id: &img.account,
        },
    }
}

/// [`image_view`] of an image of `account`'s list: the same JSON, read from the row.
pub(crate) fn summary_view<'a>(img: &'a ImageSummary, account: &'a str) -> ImageView<'a> {
    let analyzed = img.analysis_status() == AnalysisStatus::Analyzed;
    let digest = img.image_digest();
    ImageView {
        image_digest: digest,
        parent_digest: img.parent_digest(),
        user_id: account,
        image_type: "docker",
        analysis_status: img.analysis_status().as_str(),
        analysis_error: img.analysis_error(),
        image_status: img.image_status().as_str(),
        analyzed_at: img.analyzed_at().map(Ts),
        created_at: Ts(img.created_at()),
        last_updated: Ts(img.last_updated()),
        annotations: img.annotations(),
        record_version: Text(img.record_version()),
        image_content: ImageContent {
            metadata: ImageMetadata {
                arch: img.arch(),
                distro: img.distro(),
                distro_version: img.distro_version(),
                dockerfile_mode: if analyzed { "Guessed" } else { "Unknown" },
                image_size: img.image_size(),
                layer_count: img.layer_count(),
            },
        },
        image_detail: Details {
            tags: &img.tags,
            digest,
            image_id: img.config_digest().map(|d| d.trim_start_matches("sha256:")),
            user_id: account,
        },
    }
}

/// Writes `v` as `serde_json::to_writer` would, byte for byte (a unit test holds the two
/// together), for the whole-account list: keys are constants, times and digests need no
/// escaping scan, and the strings that do are scanned eight bytes at a time. Measured on
/// 10 000 images, serde's per-byte escaping alone was a sixth of the request's CPU.
pub(crate) fn write_image(v: &ImageView<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    fn opt(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => json_str(out, s),
            None => out.extend_from_slice(b"null"),
        }
    }
    fn time(out: &mut Vec<u8>, t: Ts) {
        match t.ascii() {
            Some(a) => {
                out.push(b'"');
                out.extend_from_slice(&a);
                out.push(b'"');
            }
            None => json_str(out, &t.to_string()),
        }
    }
    fn num(out: &mut Vec<u8>, n: Option<impl itoa::Integer>) {
        match n {
            Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"{\"imageDigest\":");
    opt(out, v.image_digest);
    out.extend_from_slice(b",\"parentDigest\":");
    opt(out, v.parent_digest);
    out.extend_from_slice(b",\"userId\":");
    json_str(out, v.user_id);
    out.extend_from_slice(b",\"image_type\":");
    json_str(out, v.image_type);
    out.extend_from_slice(b",\"analysis_status\":");
    json_str(out, v.analysis_status);
    out.extend_from_slice(b",\"analysis_error\":");
    opt(out, v.analysis_error);
    out.extend_from_slice(b",\"image_status\":");
    json_str(out, v.image_status);
    out.extend_from_slice(b",\"analyzed_at\":");
    match v.analyzed_at {
        Some(t) => time(out, t),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"created_at\":");
    time(out, v.created_at);
    out.extend_from_slice(b",\"last_updated\":");
    time(out, v.last_updated);
    out.extend_from_slice(b",\"annotations\":");
    serde_json::to_writer(&mut *out, v.annotations)?;
    out.extend_from_slice(b",\"record_version\":\"");
    num(out, Some(v.record_version.0));
    let m = &v.image_content.metadata;
    out.extend_from_slice(b"\",\"image_content\":{\"metadata\":{\"arch\":");
    opt(out, m.arch);
    out.extend_from_slice(b",\"distro\":");
    opt(out, m.distro);
    out.extend_from_slice(b",\"distro_version\":");
    opt(out, m.distro_version);
    out.extend_from_slice(b",\"dockerfile_mode\":");
    json_str(out, m.dockerfile_mode);
    out.extend_from_slice(b",\"image_size\":");
    num(out, m.image_size);
    out.extend_from_slice(b",\"layer_count\":");
    num(out, m.layer_count);
    out.extend_from_slice(b"}},\"image_detail\":[");
    let d = &v.image_detail;
    // Strings written in every tag's entry, some twice, are escaped once per image.
    let digest = d.digest.map(Escaped::new);
    let image_id = d.image_id.map(Escaped::new);
    let user_id = Escaped::new(d.user_id);
    let quoted = |out: &mut Vec<u8>, e: &Option<Escaped<'_>>| match e {
        Some(e) => e.quoted(out),
        None => out.extend_from_slice(b"null"),
    };
    for (i, t) in d.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (registry, repo) = (Escaped::new(&t.registry), Escaped::new(&t.repo));
        out.extend_from_slice(b"{\"registry\":");
        registry.quoted(out);
        out.extend_from_slice(b",\"repo\":");
        repo.quoted(out);
        out.extend_from_slice(b",\"tag\":");
        json_str(out, &t.tag);
        out.extend_from_slice(b",\"fulltag\":\"");
        out.extend_from_slice(&registry.0);
        out.push(b'/');
        out.extend_from_slice(&repo.0);
        out.push(b':');
        json_str_contents(out, &t.tag);
        out.extend_from_slice(b"\",\"fulldigest\":");
        match &digest {
            Some(digest) => {
                out.push(b'"');
                out.extend_from_slice(&registry.0);
                out.push(b'/');
                out.extend_from_slice(&repo.0);
                out.push(b'@');
                out.extend_from_slice(&digest.0);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"digest\":");
        quoted(out, &digest);
        out.extend_from_slice(b",\"imageDigest\":");
        quoted(out, &digest);
        out.extend_from_slice(b",\"imageId\":");
        quoted(out, &image_id);
        out.extend_from_slice(b",\"tag_detected_at\":");
        time(out, Ts(t.tag_detected_at));
        out.extend_from_slice(b",\"created_at\":");
        time(out, Ts(t.created_at));
        out.extend_from_slice(b",\"last_updated\":");
        time(out, Ts(t.last_updated));
        out.extend_from_slice(b",\"dockerfile\":null,\"userId\":");
        user_id.quoted(out);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// Whether any byte of `w` is below 0x20, `"` or `\\`. Bytes of 0x80 and above (UTF-8)
/// never count: `!w & HI` drops them.
fn needs_escape(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let ctrl = w.wrapping_sub(LO * 0x20);
    let quote = (w ^ (LO * b'"' as u64)).wrapping_sub(LO);
    let slash = (w ^ (LO * b'\\' as u64)).wrapping_sub(LO);
    (ctrl | quote | slash) & !w & HI != 0
}

/// Whether `b` goes into a JSON string as it is, checked eight bytes at a time.
fn clean(b: &[u8]) -> bool {
    let words = b.chunks_exact(8);
    let rest = words.remainder();
    words.into_iter().all(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        !needs_escape(u64::from_le_bytes(w))
    }) && rest.iter().all(|&c| c >= 0x20 && c != b'"' && c != b'\\')
}

/// A string's escaped JSON contents, for writing it more than once: borrowed when it
/// needs no escaping (digests, ids and names nearly always).
struct Escaped<'a>(std::borrow::Cow<'a, [u8]>);

impl<'a> Escaped<'a> {
    fn new(s: &'a str) -> Self {
        if clean(s.as_bytes()) {
            return Self(std::borrow::Cow::Borrowed(s.as_bytes()));
        }
        let mut out = Vec::with_capacity(s.len() + 8);
        json_str_contents(&mut out, s);
        Self(std::borrow::Cow::Owned(out))
    }

    fn quoted(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.0);
        out.push(b'"');
    }
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_str_contents(out, s);
    out.push(b'"');
}

/// The escaped contents of a JSON string: `"`, `\\` and control characters escaped
/// exactly as serde_json does (short forms where JSON has them, else `\u00xx`), every
/// other byte (UTF-8 included) copied. Clean runs are found eight bytes at a time.
fn json_str_contents(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some(chunk) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if !needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let c = b[i];
        let short = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            0x08 => Some(b'b'),
            0x09 => Some(b't'),
            0x0a => Some(b'n'),
            0x0c => Some(b'f'),
            0x0d => Some(b'r'),
            _ => None,
        };
        if short.is_some() || c < 0x20 {
            out.extend_from_slice(&b[start..i]);
            match short {
                Some(e) => out.extend_from_slice(&[b'\\', e]),
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
                }
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&b[start..]);
}

/// `AnchoreImage` as a JSON value.
pub(crate) fn image(img: &ImageRecord) -> Value {
    serde_json::to_value(image_view(img)).unwrap_or(Value::Null)
}

/// `AnchoreImage` plus customs' detail: platform, layers, squashed file count, and the
/// entries left out of the view (`findings`).
pub(crate) fn image_with_layers(img: &ImageRecord, layers: &[LayerRecord]) -> Value {
    let mut v = image(img);
    if let Some(o) = v.as_object_mut() {
        o.insert("platform".into(), json!(img.platform));
        o.insert("file_count".into(), json!(img.file_count));
        o.insert("findings".into(), img.findings.clone());
        o.insert(
            "layers".into(),
            layers
                .iter()
                .map(|l| {
                    json!({
                        "digest": l.digest,
                        "diff_id": l.diff_id,
                        "media_type": l.media_type,
                        "size": l.size,
                        "uncompressed_size": l.uncompressed_size,
                        "entry_count": l.entry_count,
                    })
                })
                .collect(),
        );
    }
    v
}

/// Bytes of rendered JSON gathered before they are handed to the connection.
const CHUNK: usize = 64 << 10;

/// A JSON array written while `items` arrive, in chunks of about [`CHUNK`] bytes: the
/// first records are on the wire while the database still sends the last, and the whole
/// list is never held twice (records and text). An error before the first item still
/// becomes an error response (the caller awaited the query); one after the body started
/// can only end it early, so the client sees a broken answer, never a short list that
/// looks whole.
pub(crate) fn json_array<S, T, E, F>(items: S, write: F) -> axum::response::Response
where
    S: futures::Stream<Item = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
    F: FnMut(&T, &mut Vec<u8>) -> serde_json::Result<()> + Send + 'static,
{
    use futures::StreamExt;
    struct State<S, F> {
        items: std::pin::Pin<Box<S>>,
        write: F,
        first: bool,
        done: bool,
    }
    let state = State { items: Box::pin(items), write, first: true, done: false };
    let body = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if st.first {
            // Only the first chunk can start with no item written.
            buf.push(b'[');
        }
        while buf.len() < CHUNK {
            match st.items.next().await {
                Some(Ok(item)) => {
                    if !st.first {
                        buf.push(b',');
                    }
                    st.first = false;
                    if let Err(e) = (st.write)(&item, &mut buf) {
                        tracing::error!(error = %e, "List rendering failed; the response is cut short");
                        st.done = true;
                        return Some((Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>), st));
                    }
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "List reading failed; the response is cut short");
                    st.done = true;
                    return Some((Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>), st));
                }
                None => {
                    buf.push(b']');
                    st.done = true;
                    break;
                }
            }
        }
        // A chunk ends full (so after an item: `first` is false from here on, and no later
        // chunk opens the array again) or with the closing bracket.
        Some((Ok(axum::body::Bytes::from(buf)), st))
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(body))
        .unwrap_or_else(|_| axum::response::Response::new(axum::body::Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str, digest: Option<&str>, tags: usize) -> ImageRecord {
        let t = time::macros::datetime!(2021-04-02 21:49:35 UTC);
        ImageRecord {
            id: uuid::Uuid::nil(),
            account: format!("acct{text}"),
            source_ref: String::new(),
            platform: "linux/amd64".into(),
            image_digest: digest.map(str::to_owned),
            parent_digest: Some(format!("sha256:{text}")),
            manifest_media_type: None,
            config_digest: Some(format!("sha256:cfg{text}")),
            arch: Some(text.to_owned()),
            os: None,
            image_size: Some(-42),
            layer_count: None,
            analysis_status: AnalysisStatus::Analyzed,
            analysis_error: Some(text.to_owned()),
            image_status: customs_model::ImageStatus::Active,
            annotations: json!({ "k": text, "n": [1, 2.5, null] }),
            analyzed_at: None,
            created_at: t,
            last_updated: time::macros::datetime!(1999-12-31 23:59:59 -01:00),
            record_version: 7,
            findings: json!([]),
            file_count: None,
            distro: None,
            distro_version: Some(text.to_owned()),
            distro_namespace: None,
            package_count: None,
            tags: (0..tags)
                .map(|i| TagRecord {
                    registry: format!("reg{text}"),
                    repo: format!("repo{text}/{i}"),
                    tag: format!("{text}{i}"),
                    tag_detected_at: t,
                    created_at: t,
                    last_updated: t,
                })
                .collect(),
        }
    }

    /// The list's hand-written JSON is serde's, byte for byte: every ASCII byte, quotes,
    /// backslashes and control characters at every offset of the eight-byte scan, UTF-8,
    /// absent digests, no tags and several.
    #[test]
    fn the_list_writer_writes_what_serde_writes() -> serde_json::Result<()> {
        let mut texts: Vec<String> = (0u8..128).map(|c| char::from(c).to_string()).collect();
        for len in 0..20 {
            for at in 0..len {
                for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '😀'] {
                    let mut t: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    t.replace_range(at..=at, &special.to_string());
                    texts.push(t);
                }
            }
        }
        texts.push("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into());
        for (i, text) in texts.iter().enumerate() {
            let digest = format!("sha256:{text}abc");
            let rec = record(text, (i % 3 != 0).then_some(digest.as_str()), i % 3);
            let view = image_view(&rec);
            let mut ours = Vec::new();
            write_image(&view, &mut ours)?;
            let theirs = serde_json::to_vec(&view)?;
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs), "text {text:?}");
        }
        Ok(())
    }

    #[test]
    fn timestamps_look_like_anchores() -> serde_json::Result<()> {
        let t = time::macros::datetime!(2021-04-02 21:49:35.123456 UTC);
        assert_eq!(ts(t), "2021-04-02T21:49:35Z");
        assert_eq!(serde_json::to_string(&Ts(t))?, "\"2021-04-02T21:49:35Z\"");
        let early = time::macros::datetime!(0042-01-09 03:04:05 UTC);
        assert_eq!(ts(early), "0042-01-09T03:04:05Z");
        let shifted = time::macros::datetime!(2021-12-31 23:30:00 -02:00);
        assert_eq!(ts(shifted), "2022-01-01T01:30:00Z");
        Ok(())
    }
}

