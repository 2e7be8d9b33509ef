"""The Dockerfiles and CI install exactly as the README says; the package carries its data."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def readme_block(tag):
    match = re.search(rf"<!-- {tag}:[^\n]*-->\n```sh\n(.*?)\n```", README, re.S)
    assert match, f"README has no {tag} block"
    return match.group(1)


def readme_install():
    """The install part of the README's install-and-run command."""
    steps = [step.strip() for step in readme_block("install-and-run").split("&&")]
    return " && ".join(step for step in steps if "venv" in step and "beetles " not in step)


def test_dockerfile_installs_like_the_readme():
    install = readme_install()
    assert "pip install -e" in install and install.startswith("python3.11 -m venv .venv")
    runs = [line[len("RUN ") :].strip() for line in DOCKERFILE.splitlines() if line.startswith("RUN ")]
    assert install in runs, f"Dockerfile has no 'RUN {install}'"


def test_dockerfile_base_image_is_pinned_python_311():
    (base,) = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_dockerfile_has_the_system_packages_the_readme_names():
    for package in ("g++", "libopenblas-dev"):
        assert package in README and re.search(rf"apt-get install[^\n]*{re.escape(package)}", DOCKERFILE)


def test_dockerfile_default_command_reproduces_the_tables_into_results():
    cmd = re.search(r'^CMD \[(.*)\]', DOCKERFILE, re.M).group(1)
    assert '"beetles", "tables", "--out", "results/paper_tables"' == cmd
    assert "/beetles/results" in README and "WORKDIR /beetles" in DOCKERFILE


def test_ci_runs_the_readme_commands():
    printed = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert printed == [readme_block("install-and-run"), readme_block("test"), readme_block("test-slow"),
                       "bash .ci/wheel_check"]
    assert "-m slow" in readme_block("test-slow")


def test_the_wheel_carries_the_published_landmarks():
    setup = (ROOT / "setup.py").read_text()
    assert '"beetles.paper": ["published/*.tps", "published/*.csv", "published/README.md"]' in setup
    published = {p.name for p in (ROOT / "beetles" / "paper" / "published").iterdir()}
    assert {"pronotum_manual.tps", "pronotum_scratch_pred.csv", "README.md"} <= published
    assert all(p.suffix in (".tps", ".csv", ".md") for p in (ROOT / "beetles" / "paper" / "published").iterdir())


GPU_DOCKERFILE = (ROOT / "Dockerfile.gpu").read_text()


def test_gpu_dockerfile_installs_like_the_readme_plus_pinned_cuda_torch():
    torch_pin = re.search(r'^TORCH = "(torch==[^"]+)"', (ROOT / "setup.py").read_text(), re.M).group(1)
    runs = [line[len("RUN ") :].strip() for line in GPU_DOCKERFILE.replace("\\\n", " ").splitlines()
            if line.startswith("RUN ")]
    assert readme_install() in runs, f"Dockerfile.gpu has no 'RUN {readme_install()}'"
    torch_runs = [run for run in runs if "pip install torch" in run]
    assert torch_runs and runs.index(torch_runs[0]) < runs.index(readme_install())  # torch first, then beetles
    assert f"pip install {torch_pin}" in torch_runs[0] and "torch.version.cuda" in torch_runs[0]
    (base,) = re.findall(r"^FROM (\S+)", GPU_DOCKERFILE, re.M)
    assert base == re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)[0]
    for package in ("g++", "libopenblas-dev"):
        assert re.search(rf"apt-get install[^\n]*{re.escape(package)}", GPU_DOCKERFILE)


def test_gpu_image_runs_the_papers_schedule_on_cuda_and_the_readme_says_how():
    cmd = re.search(r"^CMD \[(.*)\]", GPU_DOCKERFILE, re.M).group(1)
    assert cmd == '"python", "experiments/pronotum_scratch.py", "--engine", "torch", "--device", "cuda", "--paper"'
    assert "docker build -f Dockerfile.gpu" in README and "--gpus all" in README
    assert "python experiments/pronotum_scratch.py --engine torch --device cuda --paper" in README
