"""Bad dataset files, made on purpose: shared by the VOC tests and the reliability drill."""

import xml.etree.ElementTree as ET


def first_test_image(voc_root):
    """The id of the first image of the VOC2007 test split under a VOCdevkit folder."""
    return (voc_root / "VOC2007" / "ImageSets" / "Main" / "test.txt").read_text().split()[0]


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def zero_bytes(path):
    path.write_bytes(b"")


def empty_file(path):
    path.write_text("")


def delete(path):
    path.unlink()


def malformed_xml(path):
    path.write_text("<annotation><size><width>64</width>")


def drop_bndbox(path):
    tree = ET.parse(path)
    obj = tree.getroot().find("object")
    obj.remove(obj.find("bndbox"))
    tree.write(path)


def box_outside(path):
    tree = ET.parse(path)
    width = int(tree.getroot().find("size/width").text)
    tree.getroot().find("object/bndbox/xmax").text = str(width + 5)
    tree.write(path)
