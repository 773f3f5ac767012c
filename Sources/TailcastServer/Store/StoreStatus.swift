/// What `/healthz` answers in store mode: the node, and whether its store answers. The status is 200 either
/// way: a node whose store is down still serves its watchers, and a balancer should keep sending them.
struct StoreStatus: Encodable {
    struct Store: Encodable {
        var kind = "postgres"
        var url: String
        var node: String
        var ok: Bool
        var schemaVersion: Int
    }

    var ok = true
    var store: Store

    init(_ store: PostgresStore) {
        self.store = Store(url: store.configuration.url.description, node: store.node, ok: store.health.isUp, schemaVersion: Migrations.current)
    }
}
