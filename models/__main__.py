"""Prints the model zoo: trainable parameters and forward GFLOPs per image.

    python -m models [--image_size=224] [--num_classes=1000]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m models",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--num_classes", type=int, default=1000)
    args = parser.parse_args(argv)

    import models
    from models import flops

    print(f"{'model':<10} {'params':>13} {'GFLOPs/image':>13}   "
          f"({args.image_size}x{args.image_size}, {args.num_classes} classes, "
          "FLOPs = 2 x MACs, forward)")
    for name in models.names():
        model = models.build(name, image_size=args.image_size,
                             num_classes=args.num_classes)
        print(f"{name:<10} {flops.trainable_params(model):>13,} "
              f"{flops.forward_flops_per_image(model) / 1e9:>13.2f}")


if __name__ == "__main__":
    main()
