/// The store's tables, in a schema of their own (`starling`) so that they can share a database with others, as the
/// migrations that build them; `starling.schema_version` counts those applied.
enum PostgresStoreSchema {
    /// Migration n (1-based) takes the schema from version n - 1 to n. Only ever append.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE starling.sessions (
                client text PRIMARY KEY,
                expiry_interval bigint NOT NULL,
                expires_at bigint
            )
            """,
            """
            CREATE TABLE starling.subscriptions (
                client text NOT NULL,
                filter text NOT NULL,
                options integer NOT NULL,
                identifier integer,
                PRIMARY KEY (client, filter)
            )
            """,
            // The message as a 5.0 PUBLISH packet (StoredMessageCodec); the publisher and expiry beside it.
            """
            CREATE TABLE starling.deliveries (
                client text NOT NULL,
                sequence bigint NOT NULL,
                message bytea NOT NULL,
                publisher text,
                expires_at bigint,
                qos smallint NOT NULL,
                retain boolean NOT NULL,
                subscription_identifiers integer[],
                share text,
                released boolean NOT NULL DEFAULT false,
                PRIMARY KEY (client, sequence)
            )
            """,
            """
            CREATE TABLE starling.received_qos2 (
                client text NOT NULL,
                packet_identifier integer NOT NULL,
                PRIMARY KEY (client, packet_identifier)
            )
            """,
            // The Will Delay Interval apart: it is no PUBLISH property.
            """
            CREATE TABLE starling.wills (
                client text PRIMARY KEY,
                message bytea NOT NULL,
                delay bigint,
                publish_at bigint
            )
            """,
            """
            CREATE TABLE starling.retained (
                topic text PRIMARY KEY,
                message bytea NOT NULL,
                publisher text,
                expires_at bigint
            )
            """,
        ],
        [
            // Each node of a cluster keeps its own sessions: the node's name is part of every session row's key
            // ('' for a broker on its own). Retained messages stay one set for the whole cluster.
            "ALTER TABLE starling.sessions ADD COLUMN node text NOT NULL DEFAULT ''",
            "ALTER TABLE starling.sessions DROP CONSTRAINT sessions_pkey, ADD PRIMARY KEY (node, client)",
            "ALTER TABLE starling.subscriptions ADD COLUMN node text NOT NULL DEFAULT ''",
            "ALTER TABLE starling.subscriptions DROP CONSTRAINT subscriptions_pkey, ADD PRIMARY KEY (node, client, filter)",
            "ALTER TABLE starling.deliveries ADD COLUMN node text NOT NULL DEFAULT ''",
            "ALTER TABLE starling.deliveries DROP CONSTRAINT deliveries_pkey, ADD PRIMARY KEY (node, client, sequence)",
            "ALTER TABLE starling.received_qos2 ADD COLUMN node text NOT NULL DEFAULT ''",
            "ALTER TABLE starling.received_qos2 DROP CONSTRAINT received_qos2_pkey, ADD PRIMARY KEY (node, client, packet_identifier)",
            "ALTER TABLE starling.wills ADD COLUMN node text NOT NULL DEFAULT ''",
            "ALTER TABLE starling.wills DROP CONSTRAINT wills_pkey, ADD PRIMARY KEY (node, client)",
            // The cluster's members, each writing only its own row.
            """
            CREATE TABLE starling.cluster_nodes (
                name text PRIMARY KEY,
                address text NOT NULL,
                incarnation bigint NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                heartbeat_at timestamptz NOT NULL DEFAULT now(),
                leaving boolean NOT NULL DEFAULT false
            )
            """,
            // The topic filters each node's clients subscribe to, written only by that node.
            """
            CREATE TABLE starling.cluster_routes (
                node text NOT NULL,
                filter text NOT NULL,
                PRIMARY KEY (node, filter)
            )
            """,
            // What a node's link proves to another node: made by the first node, read by the others.
            """
            CREATE TABLE starling.cluster_secret (
                only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                secret text NOT NULL
            )
            """,
        ],
        [
            // Which node holds each client identifier's session; the generation rises with every claim, so that
            // of two nodes racing for one client the later claim wins.
            """
            CREATE TABLE starling.cluster_clients (
                client text PRIMARY KEY,
                node text NOT NULL,
                generation bigint NOT NULL
            )
            """,
            // A node that died: the node that took its sessions up, and whether it is done.
            "ALTER TABLE starling.cluster_nodes ADD COLUMN reaped_by text, ADD COLUMN reaped boolean NOT NULL DEFAULT false",
        ],
        [
            // Which of a node's deliveries to a link session (`node`, `client`, `sequence`, as in deliveries) the
            // link's node has taken, written by that node in the commit that publishes them there: neither node
            // sends them again when the other dies. Deleted with the delivery.
            """
            CREATE TABLE starling.cluster_taken (
                node text NOT NULL,
                client text NOT NULL,
                sequence bigint NOT NULL,
                PRIMARY KEY (node, client, sequence)
            )
            """,
        ],
    ]

    static var version: Int { migrations.count }
}
