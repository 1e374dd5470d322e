//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>).

use customs_model::package::{Package, PackageType};
use serde::Serialize;

use super::{ImageMetadata, serial};
use crate::license;
use crate::{Catalog, Error};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version_info: String,
    supplier: String,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

/// Characters SPDX allows in identifiers: letters, digits, `.` and `-`.
fn id_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The declared licenses as one SPDX expression; names that are not SPDX become
/// `LicenseRef-…` entries of the document.
fn declared(p: &Package, extracted: &mut Vec<ExtractedLicense>) -> String {
    if p.licenses.is_empty() {
        return "NOASSERTION".into();
    }
    let parts: Vec<String> = p
        .licenses
        .iter()
        .map(|l| {
            if let Some(id) = license::spdx_id(l) {
                id.to_owned()
            } else if license::is_expression(l) {
                format!("({l})")
            } else {
                let id = format!("LicenseRef-{}", id_safe(l));
                if !extracted.iter().any(|e| e.license_id == id) {
                    extracted.push(ExtractedLicense {
                        license_id: id.clone(),
                        extracted_text: l.clone(),
                        name: l.clone(),
                    });
                }
                id
            }
        })
        .collect();
    if parts.len() == 1 {
        parts[0]
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_owned()
    } else {
        parts.join(" AND ")
    }
}

/// The catalog as an SPDX 2.3 document: the image package (purpose `CONTAINER`), which
/// the document describes and which contains every package and the distribution.
pub fn spdx_json(catalog: &Catalog, image: &ImageMetadata) -> Result<serde_json::Value, Error> {
    const IMAGE_ID: &str = "SPDXRef-Image";
    let mut extracted = Vec::new();
    let mut packages = vec![SpdxPackage {
        spdx_id: IMAGE_ID.into(),
        name: image.name.clone(),
        version_info: image.digest.clone(),
        supplier: "NOASSERTION".into(),
        download_location: "NOASSERTION",
        files_analyzed: false,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".into(),
        copyright_text: "NOASSERTION",
        source_info: None,
        external_refs: Vec::new(),
        primary_package_purpose: "CONTAINER",
    }];
    if let Some(d) = &catalog.distro {
        packages.push(SpdxPackage {
            spdx_id: format!("SPDXRef-OperatingSystem-{}", id_safe(&d.id)),
            name: d.id.clone(),
            version_info: d.version.clone(),
            supplier: "NOASSERTION".into(),
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION".into(),
            copyright_text: "NOASSERTION",
            source_info: Some(format!("distribution {}", d.namespace)),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING_SYSTEM",
        });
    }
    for (i, p) in catalog.packages.iter().enumerate() {
        let mut refs = vec![ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: p.purl.clone(),
        }];
        refs.extend(p.cpes.iter().map(|c| ExternalRef {
            reference_category: "SECURITY",
            reference_type: "cpe23Type",
            reference_locator: c.clone(),
        }));
        let paths: Vec<&str> = p.locations.iter().map(|l| l.path.as_str()).collect();
        packages.push(SpdxPackage {
            spdx_id: format!("SPDXRef-Package-{}-{}-{i}", p.kind, id_safe(&p.name)),
            name: p.name.clone(),
            version_info: p.version.clone(),
            supplier: p.origin.as_deref().map_or("NOASSERTION".into(), |o| {
                // A line break or parenthesis would not parse as a supplier field.
                format!("Organization: {}", o.replace(['\n', '(', ')'], " "))
            }),
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: declared(p, &mut extracted),
            copyright_text: "NOASSERTION",
            source_info: Some(format!("{} package found in: {}", p.kind, paths.join(", "))),
            external_refs: refs,
            primary_package_purpose: if p.kind == PackageType::Binary {
                "APPLICATION"
            } else if p.kind.is_os() {
                "INSTALL"
            } else {
                "LIBRARY"
            },
        });
    }
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.into(),
    }];
    relationships.extend(packages.iter().skip(1).map(|p| Relationship {
        spdx_element_id: IMAGE_ID.into(),
        relationship_type: "CONTAINS",
        related_spdx_element: p.spdx_id.clone(),
    }));
    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: image.name.clone(),
        document_namespace: format!("urn:uuid:{}", serial(&image.digest)),
        creation_info: CreationInfo {
            created: image.created.clone(),
            creators: vec![format!("Tool: customs-{}", image.tool_version)],
        },
        packages,
        relationships,
        has_extracted_licensing_infos: extracted,
    };
    Ok(serde_json::to_value(doc)?)
}
