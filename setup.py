"""Build hook only (the project's metadata is in pyproject.toml): the course notebooks travel in the wheel.

The notebooks stay in the repository's ``notebooks/`` (where they are edited, tested and stripped of outputs). When
a wheel is built, ``build_py`` also copies them, ``notebooks/README.md`` and the documents they show
(``docs/departures.md``) into ``l2rw_viz/course_notebooks/`` of the build, so ``pip install l2rw-viz`` brings the
course (``l2rw-viz course copy DIR``; see ``l2rw_viz/course/files.py``). Editable installs read the repository's
folders instead. MANIFEST.in puts the same files into the sdist, so a wheel built from the sdist has them too.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# source folder -> the files of it that the course needs, and where they go under l2rw_viz/course_notebooks/
COURSE_FILES = {"notebooks": (["[0-9][0-9]_*.ipynb", "README.md"], "."), "docs": (["departures.md"], "docs")}


class build_py_with_course(build_py):
    """``build_py`` that also copies the course files into ``l2rw_viz/course_notebooks/`` of the build."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return   # an editable install reads the repository's notebooks/ (l2rw_viz.course.files)
        target = Path(self.build_lib) / "l2rw_viz" / "course_notebooks"
        copied = 0
        for folder, (patterns, sub) in COURSE_FILES.items():
            for pattern in patterns:
                for source in sorted((ROOT / folder).glob(pattern)):
                    (target / sub).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target / sub / source.name)
                    copied += 1
        if not any(target.glob("[0-9][0-9]_*.ipynb")):
            raise SystemExit(f"no course notebooks found in {ROOT / 'notebooks'}: a wheel without the course "
                             "would be incomplete (build from the repository or from the sdist)")
        print(f"copied {copied} course files into {target}")


setup(cmdclass={"build_py": build_py_with_course})
