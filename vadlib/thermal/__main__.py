"""``python -m vadlib.thermal``: the range of pixel values Paper B's shader constants produce."""

from vadlib.thermal.shader import shader_report

if __name__ == "__main__":
    print(shader_report())
