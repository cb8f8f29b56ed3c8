//! Every endpoint against a real owner and member, each answer checked
//! against `openapi.yaml`: reads, the token on mutating calls, errors as
//! `{code, message}`, a member joining and downloading through the API,
//! the metrics its events feed, and the CLI's client finding the node.

use archivist_api::{ADDRESS_FILE, Address, Client, TOKEN_FILE};
use serde_json::{Value, json};

use crate::{
    fixture::{Http, T0, TOPICS, WEEK, World, eventually},
    openapi::Spec,
};

/// A valid community ID no node here knows.
const STRANGER: &str = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_answers_as_the_openapi_document_says() {
    let spec = Spec::load();
    let http = Http::new(&spec);
    let world = World::new(3).await;
    let owner = world.owner_api.url();
    let member = world.member_api.url();
    let community = world.community.to_string();
    let c = |rest: &str| format!("/api/v1/communities/{community}{rest}");

    // The owner's catch-up run archives the three weeks.
    let summary = eventually("the owner's three archives", || async {
        let answer = http.get(&owner, &c("")).await;
        let summary = answer.json();
        (summary["archives"] == 3).then_some(summary)
    })
    .await;
    assert_eq!(summary["role"], "owner");
    assert!(
        summary["networks"][0]["announced_link"]
            .as_str()
            .unwrap()
            .starts_with("magnet:")
    );
    let archives = http.get(&owner, &c("/archives")).await.json();
    assert_eq!(archives["archives"].as_array().unwrap().len(), 3);
    assert!(
        archives["archives"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "published")
    );
    assert_eq!(
        archives["coverage"]["available"],
        json!([{ "from": T0, "to": T0 + 3 * WEEK }])
    );

    // Reads are open on loopback.
    let node = http.get(&owner, "/api/v1/node").await.json();
    assert_eq!(node["owned"], json!([community]));
    assert_eq!(node["networks"], json!(["torrent"]));
    let list = http.get(&owner, "/api/v1/communities").await.json();
    assert_eq!(list["communities"].as_array().unwrap().len(), 1);
    // The link is recorded before the run's events reach the API's tracker.
    let events = eventually("the owner's historyArchivesCreated event", || async {
        let events = http.get(&owner, "/api/v1/events").await.json();
        let created = events["events"]
            .as_array()?
            .iter()
            .any(|e| e["type"] == "community.historyArchivesCreated");
        created.then_some(events)
    })
    .await;
    let last = events["events"].as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    let after = http
        .get(&owner, &format!("/api/v1/events?after={last}"))
        .await
        .json();
    assert!(
        after["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["seq"].as_u64() > Some(last))
    );
    let page = http.get(&owner, "/").await;
    assert!(page.text.contains("<title>Archivist node</title>"));

    // Errors are `{code, message}` with the status that says why.
    let answer = http.get(&owner, "/api/v1/communities/0xnothex").await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (400, json!("bad-community-id"))
    );
    let answer = http
        .get(&owner, &format!("/api/v1/communities/{STRANGER}"))
        .await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (404, json!("unknown-community"))
    );
    let answer = http
        .get(&owner, &format!("/api/v1/communities/{STRANGER}/archives"))
        .await;
    assert_eq!(answer.status, 404);
    let answer = http.get(&owner, "/api/v1/events?after=soon").await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (400, json!("bad-request"))
    );
    for (method, path, status, code) in [
        ("GET", "/api/v1/nothing", 404, "not-found"),
        ("GET", c("/join").as_str(), 405, "method-not-allowed"),
    ] {
        let raw = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{owner}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), status, "{path}");
        let body = raw.text().await.unwrap();
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["code"], code, "{body}");
        assert!(error["message"].is_string(), "{body}");
    }
    let join = c("/join");
    let answer = http.call("POST", &member, &join, None, None).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (401, json!("unauthorized"))
    );
    let answer = http.call("POST", &member, &join, Some("wrong"), None).await;
    assert_eq!(answer.status, 401);
    let forged = reqwest::Client::new()
        .get(format!("{owner}/api/v1/node"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a rebound host name is refused"
    );
    spec.check(
        "GET",
        "/api/v1/node",
        403,
        "application/json",
        &forged.text().await.unwrap(),
    )
    .unwrap();

    // The member joins through the API and downloads the three archives.
    let token = world.member_api.token().to_owned();
    let on_disk = std::fs::read_to_string(world.member.config().data_dir.join(TOKEN_FILE)).unwrap();
    assert_eq!(on_disk.trim(), token);
    let answer = http
        .call(
            "POST",
            &member,
            &join,
            Some(&token),
            Some(json!({ "prefer": "torrent", "download": "all" })),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.json()["role"], "member");
    let answer = http.call("POST", &member, &join, Some(&token), None).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (409, json!("already-added"))
    );
    let answer = http
        .call(
            "POST",
            &member,
            &c("/join"),
            Some(&token),
            Some(json!({ "download": "soon" })),
        )
        .await;
    assert_eq!(answer.status, 400);
    let download = eventually("the member's finished download", || async {
        let downloads = http.get(&member, "/api/v1/downloads").await.json();
        downloads["downloads"]
            .as_array()
            .and_then(|d| d.first())
            .filter(|d| d["state"] == "finished")
            .cloned()
    })
    .await;
    assert_eq!(download["archives_total"], 3);
    assert_eq!(download["archives_imported"], 3);
    assert!(download["bytes_done"].as_u64().unwrap() > 0, "{download}");
    let archives = eventually("every archive imported", || async {
        let archives = http.get(&member, &c("/archives")).await.json();
        let list = archives["archives"].as_array()?.clone();
        (list.len() == 3 && list.iter().all(|a| a["state"] == "imported")).then_some(archives)
    })
    .await;
    assert_eq!(archives["coverage"]["missing"], json!([]));
    assert_eq!(
        archives["coverage"]["imported"],
        json!([{ "from": T0, "to": T0 + 3 * WEEK }])
    );
    let summary = http.get(&member, &c("")).await.json();
    assert_eq!(summary["download"]["state"], "finished");
    assert!(summary["last_event"]["type"].is_string());

    // The owner archives a fourth week at once, then stops archiving.
    let owner_token = world.owner_api.token().to_owned();
    let from = T0 + 3 * WEEK;
    world
        .owner
        .store()
        .insert_messages(archivist::synthetic::messages(
            &TOPICS,
            archivist::index::TimeRange {
                from,
                to: from + WEEK,
            },
            40,
            512,
            3,
        ))
        .await
        .unwrap();
    world.clock.set(T0 + 4 * WEEK);
    let runs = http
        .call("POST", &owner, &c("/archive-now"), Some(&owner_token), None)
        .await;
    assert_eq!(runs.status, 200, "{}", runs.text);
    assert_eq!(runs.json()["runs"][0]["outcome"], "created");
    let answer = http
        .call(
            "POST",
            &owner,
            &c("/archiving"),
            Some(&owner_token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["networks"][0]["archiving"], false);
    let answer = http
        .call(
            "POST",
            &owner,
            &c("/archiving"),
            Some(&owner_token),
            Some(json!({ "on": 1 })),
        )
        .await;
    assert_eq!(answer.status, 400);
    let answer = http
        .call(
            "POST",
            &member,
            &c("/archiving"),
            Some(&token),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (409, json!("not-owned"))
    );
    let answer = http
        .call("POST", &member, &c("/archive-now"), Some(&token), None)
        .await;
    assert_eq!(answer.status, 409);

    // The metrics count what the events said (the tracker takes them in
    // as they come, so the last run may take a moment to show).
    let wanted = [
        (
            &owner,
            "archivist_archives_published_total{network=\"torrent\"} 4",
        ),
        (
            &owner,
            "archivist_scheduler_runs_total{network=\"torrent\",outcome=\"created\"} 2",
        ),
        (&member, "archivist_archives_imported_total 3"),
        (&member, "archivist_messages_imported_total 120"),
        (&member, "archivist_announcements_accepted_total"),
        (
            &member,
            "archivist_archives_fetched_total{network=\"torrent\"} 3",
        ),
        (
            &member,
            "archivist_downloaded_bytes_total{network=\"torrent\"}",
        ),
        (&member, "archivist_peers{network=\"torrent\"}"),
        (&owner, "archivist_torrent_uploaded_bytes"),
    ];
    let member_metrics = eventually("the metrics", || async {
        for (base, line) in wanted {
            let text = http.get(base, "/metrics").await.text;
            if !text.lines().any(|l| l.starts_with(line)) {
                return None;
            }
        }
        Some(http.get(&member, "/metrics").await.text)
    })
    .await;
    assert!(member_metrics.trim_end().ends_with("# EOF"));
    // The owner served the member's 3 archives: librqbit counted them.
    let owner_metrics = http.get(&owner, "/metrics").await.text;
    let uploaded: u64 = owner_metrics
        .lines()
        .find_map(|l| l.strip_prefix("archivist_torrent_uploaded_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the owner reports its uploaded bytes");
    assert!(uploaded > 0, "{owner_metrics}");

    // The CLI's client finds the member through its address file and leaves.
    let data_dir = world.member.config().data_dir.clone();
    let address = Address::read(&data_dir).unwrap();
    assert_eq!(address.url, member);
    let client = Client::discover(&data_dir).unwrap();
    let status: Value = client.get(&c("")).await.unwrap();
    assert_eq!(status["joined"], true);
    let left = client.post(&c("/leave"), &json!({})).await.unwrap();
    spec.check(
        "POST",
        &c("/leave"),
        200,
        "application/json",
        &left.to_string(),
    )
    .unwrap();
    let answer = http
        .call("POST", &member, &c("/leave"), Some(&token), None)
        .await;
    assert_eq!(answer.status, 404);
    let gone = client.get(&c("")).await.unwrap_err();
    assert!(gone.to_string().contains("unknown-community"), "{gone}");

    let unexercised = spec.unexercised();
    assert!(unexercised.is_empty(), "never called: {unexercised:?}");
    world.stop().await;
    assert!(
        !data_dir.join(ADDRESS_FILE).exists(),
        "a stopped API removes its address"
    );
}
