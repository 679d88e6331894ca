"""Addresses the tokens tests use: made with the bech32m package, so their checksums are real."""

from bech32m import codecs

SECP256K1_BLAKE160 = bytes.fromhex(
    "9bd7e06f3ecf4be0f2fcd2188b23f1b9fcc88e5d4b65a8637b17723bbda3cce8"
)
# RFC 0021's example: the full address of args b39bbc0b… under secp256k1-blake160 (type).
RFC_FULL_MAINNET = (
    "ckb1qzda0cr08m85hc8jlnfp3zer7xulejywt49kt2rr0vthywaa50xw"
    "sqdnnw7qkdnnclfkg59uzn8umtfd2kwxceqxwquc4"
)
RFC_SHORT_MAINNET = "ckb1qyqt8xaupvm8837nv3gtc9x0ekkj64vud3jqfwyw5v"
RFC_DEPRECATED_FULL_MAINNET = (
    "ckb1qjda0cr08m85hc8jlnfp3zer7xulejywt49kt2rr0vthywaa50xw"
    "3vumhs9nvu786dj9p0q5elx66t24n3kxgj53qks"
)
BTC_P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173's example
BTC_P2TR = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"  # BIP-350's
BTC_P2PKH = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
TBTC_P2WPKH = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
EVM = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"


def ckb_address(args: bytes, *, hrp: str = "ckt") -> str:
    """A full-format (bech32m) CKB address of a secp256k1-blake160 lock with these args."""
    payload = b"\x00" + SECP256K1_BLAKE160 + b"\x01" + args
    data = bytes(codecs.convertbits(payload, 8, 5))
    return codecs.bech32_encode(hrp, data, codecs.Encoding.BECH32M)


def ckb_user(n: int, *, hrp: str = "ckt") -> str:
    return ckb_address(n.to_bytes(20, "big"), hrp=hrp)
