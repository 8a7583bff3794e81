"""python -m fastent {bench,config,demo} [--help] [--version]"""
import argparse
import sys


def parser():
    import fastent
    p = argparse.ArgumentParser(
        prog="python -m fastent",
        description="fastent: typed kernels for the entropy family of losses and metrics.")
    p.add_argument("--version", action="version", version=f"fastent {fastent.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           help="demo (the default), config or bench")
    sub.add_parser("demo", help="a short tour, checked against the NumPy reference",
                   description="A short tour, checked against the NumPy reference.")
    sub.add_parser("config", help="version, build flags, OpenMP, threads, SIMD kernels",
                   description="Print the version, how the kernels were built and how they "
                               "run here (fastent.show_config()).")
    from fastent import _bench
    bench = sub.add_parser("bench", help="the benchmark report against NumPy and the "
                                         "installed peers",
                           description=_bench.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _bench.add_arguments(bench)
    return p, bench


def main(argv=None):
    p, bench = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "bench":
        from fastent import _bench
        return _bench.main(args, bench)
    if args.command == "config":
        import fastent
        fastent.show_config()
        return 0
    from fastent._demo import main as demo
    return demo()


if __name__ == "__main__":
    sys.exit(main())
