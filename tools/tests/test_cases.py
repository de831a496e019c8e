"""Every case of cases.py gets the verdict it names, one by one and through
`verify_certificate.py --batch` (which reads cases.py's lines as they are).

Run: python3 -m unittest discover -s tools/tests   (needs PyNaCl)
"""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)

from cases import cases  # noqa: E402
from chorus_verifier.certificate import verify_full  # noqa: E402
from chorus_verifier.errors import Refused  # noqa: E402


class Cases(unittest.TestCase):
    def test_each_case_gets_its_verdict(self):
        all_cases = cases()
        self.assertGreaterEqual(len(all_cases), 70)
        for name, cert, coalition, expected in all_cases:
            with self.subTest(case=name):
                try:
                    verify_full(cert, coalition)
                    got = "ok"
                except Refused as e:
                    got = e.code
                self.assertEqual(got, expected)

    def test_the_batch_reads_the_script_output(self):
        lines = subprocess.run(
            [sys.executable, os.path.join(HERE, "cases.py")], capture_output=True, text=True, check=True
        ).stdout
        out = subprocess.run(
            [sys.executable, os.path.join(TOOLS, "verify_certificate.py"), "--batch", "-", "--json"],
            input=lines,
            capture_output=True,
            text=True,
            check=True,
        )
        verdicts = [json.loads(v) for v in out.stdout.splitlines()]
        expected = [line.split()[3] for line in lines.splitlines()]
        self.assertEqual(["ok" if v["valid"] else v["code"] for v in verdicts], expected)

    def test_an_unknown_observer_access_is_named(self):
        (_, cert, coalition, _) = next(c for c in cases() if c[0] == "charter observers 3")
        with self.assertRaises(Refused) as e:
            verify_full(cert, coalition)
        self.assertEqual(e.exception.code, "Genesis/InvalidField")
        self.assertIn("observers: 3 is not positions (0), everything (1) or none (2)", e.exception.reason)


if __name__ == "__main__":
    unittest.main()
