"""BN254 (alt_bn128) parameters: the curve of the EVM precompiles 0x06, 0x07 and 0x08.

Everything here is plain Python ints; each backend derives its own constant tables from them.
"""

from .errors import InvalidInput

# Scalar field Fr: the order of G1. Two-adicity 28, multiplicative generator 5.
R_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
R_TWO_ADICITY = 28
R_GENERATOR = 5

# Base field Fq, over which G1 is defined: y^2 = x^3 + 3.
P_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583
CURVE_B = 3
G1_GENERATOR = (1, 2)

# Limb layout shared by every backend: 4 little-endian 64-bit limbs per field element.
LIMBS = 4
LIMB_BITS = 64
MONTGOMERY_R = 1 << (LIMBS * LIMB_BITS)


def root_of_unity(log2_n: int) -> int:
    """A primitive 2^log2_n-th root of unity in Fr (a power of the multiplicative generator)."""
    if not 0 <= log2_n <= R_TWO_ADICITY:
        raise InvalidInput(f"Fr has roots of unity of order up to 2^{R_TWO_ADICITY}, asked for 2^{log2_n}")
    return pow(R_GENERATOR, (R_MODULUS - 1) >> log2_n, R_MODULUS)
