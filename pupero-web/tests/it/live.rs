//! `GET /live`: the signed-in user's changes as server-sent events, from now on.

use futures_util::StreamExt;

use crate::support::with_stack;

/// Reads the stream until an event of `kind`; the data lines seen.
async fn next_event<B: AsRef<[u8]>>(
    body: &mut (impl futures_util::Stream<Item = std::io::Result<B>> + Unpin),
    buffer: &mut String,
    kind: &str,
) -> String {
    let marker = format!("event: {kind}\ndata: ");
    loop {
        if let Some(start) = buffer.find(&marker) {
            let rest = &buffer[start + marker.len()..];
            if let Some(end) = rest.find("\n\n") {
                let event = rest[..end].to_owned();
                buffer.replace_range(..start + marker.len() + end + 2, "");
                return event;
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event in {buffer:?}"))
            .expect("stream open")
            .expect("chunk");
        buffer.push_str(std::str::from_utf8(chunk.as_ref()).expect("utf-8"));
    }
}

#[tokio::test]
async fn changes_reach_the_page_from_now_on() {
    with_stack(|stack| async move {
        let mut visitor = stack.visitor();
        assert_eq!(visitor.get("/live").await.status, 303, "signed out");
        visitor.register("rosa").await;
        // History before the stream opens is not replayed.
        stack.credit("rosa", "1").await;
        let response = visitor.open("/live").await;
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let mut body = response.into_body().into_bytes_stream().boxed();
        let mut buffer = String::new();
        next_event(&mut body, &mut buffer, "ready").await;
        assert!(!buffer.contains("wallet"), "old events replayed: {buffer}");
        stack.credit("rosa", "2").await;
        next_event(&mut body, &mut buffer, "wallet").await;
    })
    .await;
}
