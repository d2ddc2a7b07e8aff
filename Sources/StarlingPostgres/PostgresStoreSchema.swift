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
    ]

    static var version: Int { migrations.count }
}
