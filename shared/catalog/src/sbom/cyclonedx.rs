//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>).

use std::collections::HashMap;

use customs_model::package::{Package, PackageType};
use serde::Serialize;

use super::{ImageMetadata, serial};
use crate::license;
use crate::{Catalog, Error};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component<'a>>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: &'a str,
    tools: Tools<'a>,
    component: Component<'a>,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: Vec<Component<'a>>,
}

#[derive(Serialize, Default)]
struct Component<'a> {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpe: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice<'a> {
    License { license: License<'a> },
    Expression { expression: &'a str },
}

#[derive(Serialize)]
#[serde(untagged)]
enum License<'a> {
    Id { id: &'static str },
    Name { name: &'a str },
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

fn licenses(p: &Package) -> Vec<LicenseChoice<'_>> {
    // CycloneDX allows one expression or a list of single licenses, not both.
    if let [one] = p.licenses.as_slice()
        && license::spdx_id(one).is_none()
        && license::is_expression(one)
    {
        return vec![LicenseChoice::Expression { expression: one }];
    }
    p.licenses
        .iter()
        .map(|l| LicenseChoice::License {
            license: match license::spdx_id(l) {
                Some(id) => License::Id { id },
                None => License::Name { name: l },
            },
        })
        .collect()
}

/// The catalog as a CycloneDX 1.6 BOM: the image as the metadata component, the
/// distribution as an `operating-system` component, every package as a `library`
/// (`application` for binaries found by classifiers), each contained by the image.
pub fn cyclonedx_json(
    catalog: &Catalog,
    image: &ImageMetadata,
) -> Result<serde_json::Value, Error> {
    const IMAGE_REF: &str = "image";
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut components = Vec::new();
    if let Some(d) = &catalog.distro {
        components.push(Component {
            bom_ref: Some(format!("os:{}", d.namespace)),
            kind: "operating-system",
            name: &d.id,
            version: &d.version,
            properties: vec![Property {
                name: "customs:distro:namespace".into(),
                value: d.namespace.clone(),
            }],
            ..Component::default()
        });
    }
    for p in &catalog.packages {
        let n = seen.entry(p.purl.as_str()).or_default();
        *n += 1;
        let bom_ref = if *n == 1 {
            p.purl.clone()
        } else {
            format!("{}#{}", p.purl, n)
        };
        let mut properties = vec![Property {
            name: "customs:package:type".into(),
            value: p.kind.as_str().into(),
        }];
        for (i, l) in p.locations.iter().enumerate() {
            properties.push(Property {
                name: format!("customs:location:{i}:path"),
                value: l.path.clone(),
            });
            properties.push(Property {
                name: format!("customs:location:{i}:layer"),
                value: l.layer.to_string(),
            });
        }
        if let Some(s) = &p.source_name {
            properties.push(Property {
                name: "customs:package:source".into(),
                value: s.clone(),
            });
        }
        if let Some(s) = &p.source_version {
            properties.push(Property {
                name: "customs:package:source_version".into(),
                value: s.clone(),
            });
        }
        components.push(Component {
            bom_ref: Some(bom_ref),
            kind: if p.kind == PackageType::Binary {
                "application"
            } else {
                "library"
            },
            group: p.metadata.get("group_id").map(String::as_str),
            name: &p.name,
            version: &p.version,
            publisher: p.origin.as_deref(),
            licenses: licenses(p),
            cpe: p.cpes.first().map(String::as_str),
            purl: Some(&p.purl),
            properties,
        });
    }
    let depends_on = components
        .iter()
        .filter_map(|c| c.bom_ref.clone())
        .collect();
    let bom = Bom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", serial(&image.digest)),
        version: 1,
        metadata: Metadata {
            timestamp: &image.created,
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "customs",
                    version: &image.tool_version,
                    ..Component::default()
                }],
            },
            component: Component {
                bom_ref: Some(IMAGE_REF.into()),
                kind: "container",
                name: &image.name,
                version: &image.digest,
                ..Component::default()
            },
        },
        components,
        dependencies: vec![Dependency {
            reference: IMAGE_REF.into(),
            depends_on,
        }],
    };
    Ok(serde_json::to_value(bom)?)
}
