"""python -m fastent {bench,config,demo}"""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "demo"
    if command == "bench":
        from fastent._bench import main as bench
        return bench(argv[1:])
    if command == "config":
        import fastent
        fastent.show_config()
        return 0
    if command == "demo":
        from fastent._demo import main as demo
        return demo()
    print("usage: python -m fastent {bench [--quick] [--out DIR],config,demo}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
