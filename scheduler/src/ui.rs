//! The web UI: a page and its scripts, compiled into the binary and served
//! beside the REST API (`/` and `/ui/{file}`), so there is no separate
//! server to run and no build step beyond `cargo build`.
//!
//! The UI is plain HTML, CSS and JavaScript modules (`webui/` at the
//! workspace root, as the architecture map places it): it
//! reads only the REST API, with the bearer token its user types in when
//! the API asks for one, so it can do nothing the API's rules forbid. Its
//! files hold no data and are served to anyone. Every response carries a
//! content security policy that allows scripts and styles from this origin
//! only: even text a job chose (its name, an error) that reached the page
//! unescaped could not run as a script. The scripts put such text in the
//! page as text, never as markup.

use actix_web::{web, HttpResponse};

/// One file of the UI.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../../webui/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("jobs.js", "text/javascript; charset=utf-8"),
    asset!("job.js", "text/javascript; charset=utf-8"),
    asset!("graph.js", "text/javascript; charset=utf-8"),
    asset!("plot.js", "text/javascript; charset=utf-8"),
    asset!("cluster.js", "text/javascript; charset=utf-8"),
    asset!("stats.js", "text/javascript; charset=utf-8"),
];

/// Scripts, styles and API calls from this origin only; nothing inline,
/// no frames, no forms posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The file called `name`, if the UI has one.
fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

fn serve(asset: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        // A newer binary's UI is taken at once, not a cached older one.
        .insert_header(("cache-control", "no-cache"))
        .body(asset.body)
}

/// `GET /`: the page.
pub async fn index() -> HttpResponse {
    match find("index.html") {
        Some(page) => serve(page),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `GET /ui/{file}`: a script or style sheet.
pub async fn asset(file: web::Path<String>) -> HttpResponse {
    match find(&file) {
        Some(asset) if asset.name != "index.html" => serve(asset),
        _ => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("the UI has no file {:?}\n", file.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_scripts_import_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for line in asset.body.lines() {
                let Some(from) = line.split(" from \"./").nth(1) else {
                    continue;
                };
                let module = from.split('"').next().unwrap_or_default();
                assert!(
                    find(module).is_some(),
                    "{} imports {module}, which is not served",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn every_file_of_the_ui_folder_is_served() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../webui");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .expect("the webui folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        files.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
        served.sort();
        assert_eq!(files, served);
    }

    #[test]
    fn the_page_loads_its_scripts_and_styles_from_files_not_inline() {
        let page = find("index.html").map(|a| a.body).unwrap_or_default();
        assert!(page.contains(r#"<script type="module" src="/ui/app.js"></script>"#));
        assert!(page.contains(r#"<link rel="stylesheet" href="/ui/style.css">"#));
        assert_eq!(
            page.matches("<script").count(),
            1,
            "one script, no inline ones"
        );
        assert!(
            !page.contains("style=\""),
            "no inline styles: the policy refuses them"
        );
    }
}
