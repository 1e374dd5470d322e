//! The SAM template and the routing table agree (filled in with infra/template.yaml).
