//! The policy engine's view of an image, from what analysis and matching recorded.

use customs_model::package::{Distro, Package, PackageType};
use customs_policy::{Cvss, Dockerfile, DockerfileMode, ImageConfig, ImageFacts, Severity, VulnerabilityMatch};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

fn anchore_type(t: PackageType) -> String {
    match t {
        PackageType::Apkg => "APKG".into(),
        other => other.as_str().into(),
    }
}

fn cvss_v3(cvss: &Value) -> Vec<Cvss> {
    cvss.as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["version"].as_str().is_some_and(|v| v.starts_with('3')))
        .filter_map(|c| c["base_score"].as_f64())
        .map(|base_score| Cvss { base_score, exploitability_score: -1.0, impact_score: -1.0 })
        .collect()
}

/// Catalogued packages as the policy engine sees them.
pub(crate) fn policy_packages(packages: &[Package]) -> Vec<customs_policy::Package> {
    packages
        .iter()
        .map(|p| customs_policy::Package {
            name: p.name.clone(),
            version: p.version.clone(),
            pkg_type: anchore_type(p.kind),
            path: p.locations.first().map(|l| l.path.clone()),
            licenses: p.licenses.clone(),
            cpes: p.cpes.clone(),
            ..Default::default()
        })
        .collect()
}

/// What the policy reads of a recorded file (`image_files`, as analyze wrote it); other
/// fields are skipped while parsing.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct StoredFile {
    #[serde(default)]
    path: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    mode: u32,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    sha256: Option<String>,
}

pub(crate) fn build(
    img: &customs_store::ImageRecord,
    distro: Option<&Distro>,
    packages: &[Package],
    findings: &[customs_matcher::Finding],
    enrich: &[customs_store::Enrichment],
    config: &Value,
    files: &[StoredFile],
) -> ImageFacts {
    let c = config.get("config").cloned().unwrap_or_default();
    ImageFacts {
        image_id: img.config_digest.as_deref().unwrap_or_default().trim_start_matches("sha256:").to_owned(),
        digest: img.image_digest.clone().unwrap_or_default(),
        distro: distro.map(|d| customs_policy::Distro { name: d.id.clone(), version: d.version.clone(), like: d.id_like.clone() }),
        architecture: img.arch.clone(),
        os_type: img.os.clone(),
        size: img.image_size.and_then(|s| u64::try_from(s).ok()),
        layer_count: img.layer_count.and_then(|s| u64::try_from(s).ok()),
        packages: policy_packages(packages),
        config: ImageConfig {
            env: strings(&c["Env"]),
            user: c["User"].as_str().filter(|u| !u.is_empty()).map(str::to_owned),
            exposed_ports: c["ExposedPorts"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default(),
            labels: c["Labels"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                .unwrap_or_default(),
            entrypoint: strings(&c["Entrypoint"]),
            cmd: strings(&c["Cmd"]),
        },
        dockerfile: Dockerfile::parse(&customs_policy::guess_dockerfile(config), DockerfileMode::Guessed),
        files: files
            .iter()
            .map(|f| customs_policy::FileEntry {
                path: format!("/{}", f.path),
                mode: f.mode,
                size: f.size,
                file_type: match f.kind.as_str() {
                    "dir" => "dir".into(),
                    "symlink" => "symlink".into(),
                    _ => "file".into(),
                },
                sha256: f.sha256.clone(),
                ..Default::default()
            })
            .collect(),
        vulnerabilities: findings
            .iter()
            .map(|f| {
                let e = enrich.iter().find(|e| e.cve == f.vuln);
                VulnerabilityMatch {
                    vulnerability_id: f.vuln.clone(),
                    severity: Severity::parse(&f.severity),
                    package_name: f.package_name.clone(),
                    package_version: f.package_version.clone(),
                    package_type: anchore_type(f.package_type),
                    package_path: Some(f.package_path.clone()),
                    fix_versions: f.fix.as_deref().map(|x| x.split(',').map(str::to_owned).collect()).unwrap_or_default(),
                    will_not_fix: f.will_not_fix,
                    feed_group: Some(f.namespace.clone()),
                    link: f.url.clone(),
                    nvd_cvss_v3: cvss_v3(&f.cvss),
                    kev: e.is_some_and(|e| e.kev_date_added.is_some()),
                    epss_score: e.and_then(|e| e.epss_score),
                    epss_percentile: e.and_then(|e| e.epss_percentile),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}
