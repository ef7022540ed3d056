"""`rt.volumes` (docker-py's volume collection) and `Container.remove(v=True)`, on a real
runtime: volumes made, listed, refused while used, removed with their container, pruned."""

import os
import unittest

from support import Fixture, dr

NONE = {"network_mode": "none"}


@unittest.skipUnless(os.geteuid() == 0, "containers need root (CI runs as root)")
class VolumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fixture("volumes")
        cls.rt = cls.f.rt

    @classmethod
    def tearDownClass(cls):
        cls.f.close()

    def names(self):
        return sorted(v.name for v in self.rt.volumes.list())

    def test_volumes_are_made_used_removed_and_pruned(self):
        vols = self.rt.volumes
        v = vols.create("pyvol", driver="local", labels={"team": "a", "tier": "db"})
        self.assertEqual((v.id, v.name), ("pyvol", "pyvol"))
        self.assertEqual(v.attrs["Driver"], "local")
        self.assertEqual(v.attrs["Labels"], {"team": "a", "tier": "db"})
        self.assertTrue(v.attrs["Mountpoint"].endswith("/volumes/pyvol/_data"))
        self.assertEqual(vols.create("pyvol"), v)  # an existing one is given back
        self.assertEqual(vols.get("pyvol").attrs, v.attrs)
        anon = vols.create()
        self.assertEqual(len(anon.id), 64)
        self.assertEqual([x.name for x in vols.list(filters={"label": "team=a"})], ["pyvol"])
        self.assertEqual([x.name for x in vols.list(filters={"label": ["team", "tier=x"]})],
                         [])
        self.assertEqual([x.name for x in vols.list(filters={"name": "yvo"})], ["pyvol"])
        anon.remove()
        # A container uses pyvol and an anonymous volume of its own.
        c = self.rt.containers.create("busybox", ["sh", "-c", "echo kept > /data/f"],
                                      volumes=["pyvol:/data", "/scratch"], **NONE)
        self.addCleanup(c.close)
        c.start()
        self.assertEqual(c.wait()["StatusCode"], 0)
        c.reload()
        mine = c.attrs["Mounts"][1]["Name"]
        self.assertEqual(self.names(), sorted(["pyvol", mine]))
        with self.assertRaises(dr.InUse) as e:
            v.remove()
        self.assertIn(f"remove pyvol: volume is in use - [{c.id}]", str(e.exception))
        self.assertEqual(vols.prune(), {"VolumesDeleted": [], "SpaceReclaimed": 0})
        self.assertEqual(self.names(), sorted(["pyvol", mine]))
        # remove(v=True): its anonymous volume goes with it, the named one stays.
        with self.assertRaises(ValueError):
            c.remove(link=True)
        c.remove(v=True)
        self.assertEqual(self.names(), ["pyvol"])
        self.assertEqual(vols.prune(), {"VolumesDeleted": ["pyvol"], "SpaceReclaimed": 5})
        self.assertEqual(self.names(), [])
        with self.assertRaises(dr.NotFound):
            v.remove()
        v.remove(force=True)  # gone already: no error with force
        with self.assertRaises(dr.NotFound):
            vols.get("pyvol")

    def test_bad_input(self):
        vols = self.rt.volumes
        for bad in ["a/b", "..", "x"]:
            with self.assertRaises(dr.InvalidArgument):
                vols.create(bad)
        with self.assertRaises(dr.InvalidArgument):
            vols.create("ok1", labels={"": "v"})
        with self.assertRaises(ValueError):
            vols.create("ok2", driver="nfs")
        with self.assertRaises(ValueError):
            vols.create("ok3", driver_opts={"type": "tmpfs"})
        with self.assertRaises(ValueError):
            vols.list(filters={"dangling": True})
        with self.assertRaises(dr.InvalidArgument):
            vols.get("../etc")
        self.assertEqual(self.names(), [])
        # remove() without v keeps the anonymous volume (as docker rm).
        c = self.rt.containers.create("busybox", ["true"], volumes=["/keep"], **NONE)
        self.addCleanup(c.close)
        c.remove()
        left = self.names()
        self.assertEqual(len(left), 1)
        vols.get(left[0]).remove()


if __name__ == "__main__":
    unittest.main()
