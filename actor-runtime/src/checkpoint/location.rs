//! Where a checkpoint store is, as one string every process can be given
//! and a deployment can carry: a directory on a file system every worker
//! reaches (`/data/checkpoints`), or an S3 bucket and prefix with opendal's
//! S3 options as a query —
//! `s3://BUCKET/PREFIX?endpoint=URL&region=R&access_key_id=K&secret_access_key=S`
//! (credentials may instead come from the usual `AWS_*` environment
//! variables of each process). Values are taken as written: no percent
//! decoding, so none may hold `&`.

use std::collections::BTreeMap;

use opendal::Operator;

use super::StorageError;

/// A parsed store location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    scheme: &'static str,
    /// opendal's options for the service (`root`, `bucket`, …).
    options: BTreeMap<String, String>,
}

/// A location's path and its options (`?…`, kept whole; only a URL has
/// them, a directory's name may hold a `?`).
fn split_options(location: &str) -> (&str, &str) {
    match location.split_once("://") {
        Some(_) => match location.find('?') {
            Some(at) => location.split_at(at),
            None => (location, ""),
        },
        None => (location, ""),
    }
}

fn bad(location: &str, why: &str) -> StorageError {
    StorageError::BadLocation {
        location: location.to_string(),
        why: why.to_string(),
    }
}

impl Location {
    /// Parses `location` (see the module header).
    pub fn parse(location: &str) -> Result<Self, StorageError> {
        let Some((scheme, rest)) = location.split_once("://") else {
            let options = BTreeMap::from([("root".to_string(), location.to_string())]);
            return Ok(Self {
                scheme: "fs",
                options,
            });
        };
        if scheme != "s3" {
            return Err(bad(
                location,
                "only a directory or s3://BUCKET/PREFIX is known",
            ));
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad(location, "no bucket"));
        }
        let mut options = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad(location, &format!("option {pair:?} has no value")));
            };
            if matches!(key, "bucket" | "root") {
                return Err(bad(location, &format!("{key} is the URL's, not an option")));
            }
            options.insert(key.to_string(), value.to_string());
        }
        options.insert("bucket".into(), bucket.into());
        options.insert("root".into(), format!("/{prefix}"));
        Ok(Self {
            scheme: "s3",
            options,
        })
    }

    /// `sub` (a relative directory) under `location`, as a location.
    pub fn join(location: &str, sub: &str) -> String {
        let (base, query) = split_options(location);
        format!(
            "{}/{}{query}",
            base.trim_end_matches('/'),
            sub.trim_matches('/')
        )
    }

    /// The location beside `location` (a directory) named `name`: its
    /// last path component replaced, options kept.
    pub fn sibling(location: &str, name: &str) -> String {
        let (base, query) = split_options(location);
        let parent = base
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent);
        format!("{parent}/{}{query}", name.trim_matches('/'))
    }

    /// `location` as messages show it: without its options (they may
    /// hold credentials).
    pub fn shown(location: &str) -> &str {
        location.split_once('?').map_or(location, |(base, _)| base)
    }

    /// The root within the store, for messages.
    pub fn root(&self) -> &str {
        self.options.get("root").map_or("", String::as_str)
    }

    /// An operator on the store.
    pub fn operator(&self, location: &str) -> Result<Operator, StorageError> {
        // HTTP services need a process-wide transport, and its TLS a
        // provider; both are installed once, whoever asks first.
        #[cfg(feature = "s3")]
        {
            static HTTP: std::sync::Once = std::sync::Once::new();
            HTTP.call_once(|| {
                let _ = rustls::crypto::ring::default_provider().install_default();
                opendal_http_transport_reqwest::install_default();
            });
        }
        opendal::init_default_registry();
        let options = self.options.iter().map(|(k, v)| (k.clone(), v.clone()));
        Operator::via_iter(self.scheme, options).map_err(|source| StorageError::Store {
            doing: "opening",
            path: location.to_string(),
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_a_directory_and_an_s3_url_names_bucket_prefix_and_options() {
        let fs = Location::parse("/data/chk").unwrap();
        assert_eq!((fs.scheme, fs.root()), ("fs", "/data/chk"));
        let s3 = Location::parse("s3://b/x/y?endpoint=http://h:9000&region=r").unwrap();
        assert_eq!(s3.scheme, "s3");
        assert_eq!(s3.options["bucket"], "b");
        assert_eq!(s3.options["root"], "/x/y");
        assert_eq!(s3.options["endpoint"], "http://h:9000");
        assert_eq!(s3.options["region"], "r");
        for bad in ["gcs://b/x", "s3:///x", "s3://b/x?region", "s3://b?root=/y"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn joining_keeps_the_options_at_the_end() {
        assert_eq!(Location::join("/data/", "j/chk-1/"), "/data/j/chk-1");
        assert_eq!(
            Location::join("s3://b/p?region=r", "j/chk-1/"),
            "s3://b/p/j/chk-1?region=r"
        );
        assert_eq!(Location::join("s3://b", "j"), "s3://b/j");
    }

    #[test]
    fn a_sibling_replaces_the_last_component_and_keeps_the_options() {
        assert_eq!(Location::sibling("/d/j/chk-1/", "chk-3"), "/d/j/chk-3");
        assert_eq!(
            Location::sibling("s3://b/p/j/chk-1?region=r", "chk-3/"),
            "s3://b/p/j/chk-3?region=r"
        );
    }
}
