//! Outbound calls: a live client refuses internal addresses before connecting.

use neoforge_server::outbound::{Error, Outbound};
use neoforge_server::tenancy::Env;

#[tokio::test]
async fn live_refuses_a_literal_internal_address_before_connecting() {
    let outbound = Outbound::new(None).expect("clients");
    // Nothing listens on these; a refusal that is not NotPublic would mean a connect.
    for url in [
        "https://[::ffff:127.0.0.1]:1/",
        "https://[64:ff9b::7f00:1]:1/",
        "http://0x7f.1:1/",
    ] {
        let live = outbound.client(Env::Live);
        let err = live
            .send(live.request(reqwest::Method::GET, url))
            .await
            .expect_err(url);
        assert!(matches!(err, Error::NotPublic(_)), "{url}: {err}");
        let sandbox = outbound.client(Env::Test);
        let err = sandbox
            .send(sandbox.request(reqwest::Method::GET, url))
            .await
            .expect_err(url);
        assert!(matches!(err, Error::Http(_)), "{url}: {err}");
    }
}
