/// Self-signed certificates and keys made for these tests only (100 years valid, P-256): `good` names
/// `localhost` and 127.0.0.1, `wrong` names only `wrong.example`. They protect nothing.
enum TLSFixtures {
    static let goodCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIBqzCCAVGgAwIBAgIUAd47eS/wFy2/jz3L2hAYgJSyNNswCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTE4MjEzNloYDzIxMjYxMTA3
        MTgyMTM2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAARRjVU3tkokA2a3fJAGS1jGz8frnFFNcYfMomMXH///RJFkP0n5iudT
        NkkJ7kGlDED48omt+ytT8P0WcsjdXPn+o38wfTAdBgNVHQ4EFgQUOlO+c7vsKkn9
        5/BT+aCqby0Uyr4wHwYDVR0jBBgwFoAUOlO+c7vsKkn95/BT+aCqby0Uyr4wGgYD
        VR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0P
        AQH/BAQDAgKEMAoGCCqGSM49BAMCA0gAMEUCIQCr4K+pgDqHZv2vObc8Vq01SCui
        OXU6wX9fFP/osbQR4wIgIMBN25I3Jx+ndm5GhTlU8jmHLrKql3n1YS+G5IZslIk=
        -----END CERTIFICATE-----
        """
    static let goodKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQoFUCHOCBrKlfC4x
        9B6sn3LiKpadivDTJivkhhznA6ehRANCAARRjVU3tkokA2a3fJAGS1jGz8frnFFN
        cYfMomMXH///RJFkP0n5iudTNkkJ7kGlDED48omt+ytT8P0WcsjdXPn+
        -----END PRIVATE KEY-----
        """
    static let wrongCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIBsjCCAVegAwIBAgIULc6vGpwKsn+dB0daIsGQVeFDxB4wCgYIKoZIzj0EAwIw
        GDEWMBQGA1UEAwwNd3JvbmcuZXhhbXBsZTAgFw0yNjEyMDExODIxMzZaGA8yMTI2
        MTEwNzE4MjEzNlowGDEWMBQGA1UEAwwNd3JvbmcuZXhhbXBsZTBZMBMGByqGSM49
        AgEGCCqGSM49AwEHA0IABKnFhW6JKlScD5/6fFXbIYUuwS4GJVesOw5yXDjfSU5O
        6kbAfjP1ZYF/ahBuokLm9thHEmU5s560ffKHHxUlyj6jfTB7MB0GA1UdDgQWBBQb
        4E4EpKOknmpfIPspCAOd5JapUTAfBgNVHSMEGDAWgBQb4E4EpKOknmpfIPspCAOd
        5JapUTAYBgNVHREEETAPgg13cm9uZy5leGFtcGxlMA8GA1UdEwEB/wQFMAMBAf8w
        DgYDVR0PAQH/BAQDAgKEMAoGCCqGSM49BAMCA0kAMEYCIQCEAgtDMjJ8JSXM6Wv7
        sKQqh6jdfeIchwEJd8fpcRfDBgIhANhOrCDv2lcFh6uNJiAq6uGdGy9waSIrQ0XM
        V2uJU4ov
        -----END CERTIFICATE-----
        """
    static let wrongKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKZlxNepYM/tNo+Su
        hKByHPGb5faxi+HtbsnFnyCZkuahRANCAASpxYVuiSpUnA+f+nxV2yGFLsEuBiVX
        rDsOclw430lOTupGwH4z9WWBf2oQbqJC5vbYRxJlObOetH3yhx8VJco+
        -----END PRIVATE KEY-----
        """
}
