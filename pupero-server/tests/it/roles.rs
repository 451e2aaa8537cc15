//! Roles: every operation of the OpenAPI document is served by exactly one role, and a process
//! of one role answers its own paths and no other's.

use pupero_server::roles::{Role, owner, routes};

use crate::support::app_test_with;

/// The paths of the committed OpenAPI document.
fn documented_paths() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/pupero.yaml"
    ))
    .expect("the committed document");
    let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    document["paths"]
        .as_mapping()
        .expect("paths")
        .keys()
        .map(|k| k.as_str().expect("a path").to_owned())
        .collect()
}

#[test]
fn every_operation_is_served_by_exactly_one_role() {
    let paths = documented_paths();
    for path in &paths {
        let serving: Vec<Role> = Role::SERVICES
            .into_iter()
            .filter(|role| role.serves(path) && owner(path).is_some())
            .collect();
        if matches!(path.as_str(), "/healthz" | "/readyz") {
            assert_eq!(owner(path), None, "every role answers {path} itself");
            assert!(Role::SERVICES.iter().all(|role| role.serves(path)));
            continue;
        }
        assert_eq!(serving.len(), 1, "{path} is served by {serving:?}");
        assert!(Role::All.serves(path));
    }
    // The homeserver's endpoint of the Matrix bridge is outside the document by design.
    for (prefix, role) in routes().filter(|(prefix, _)| *prefix != "/_matrix") {
        assert!(
            paths
                .iter()
                .any(|p| owner(p) == Some(role) && p.starts_with(prefix)),
            "the route {prefix} ({role:?}) serves no documented operation"
        );
    }
}

app_test_with!(
    a_process_of_one_role_answers_only_its_paths,
    |settings| {
        settings.role = Role::Offers;
    },
    |app, _clock| {
        let get = |path: &str| {
            let request = app.raw().get(format!("{}{path}", app.base_url));
            async move { request.send().await.expect("request") }
        };
        assert_eq!(get("/api/v1/offers").await.status().as_u16(), 200);
        assert_eq!(get("/healthz").await.status().as_u16(), 200);
        let elsewhere = get("/api/v1/balance").await;
        assert_eq!(elsewhere.status().as_u16(), 404);
        let body: serde_json::Value = elsewhere.json().await.expect("the error envelope");
        assert_eq!(body["code"], "NOT_FOUND");
        // Refused before authentication: nothing of the other role runs.
        let post = app
            .raw()
            .post(format!("{}/api/v1/auth/login", app.base_url))
            .json(&serde_json::json!({"login": "x", "password": "y"}))
            .send()
            .await
            .expect("request");
        assert_eq!(post.status().as_u16(), 404);
    }
);
