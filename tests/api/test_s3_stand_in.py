"""test_s3_stand_in.py — the S3 stand-in (tests/peers/s3_peer.py) that the gateway's S3
tests rely on, checked against AWS's own SDK (Debian's python3-botocore): botocore's
signed requests are accepted and a wrong secret is not; its parsers read the
stand-in's XML answers; multipart behaves as AWS documents it (per-part ETags, the
"<md5 of the parts' MD5s>-N" ETag, EntityTooSmall, InvalidPartOrder, InvalidPart,
NoSuchUpload after an abort); a bad Content-MD5 is BadDigest; botocore's presigned
URL is served, and refused once expired. So a test that passes against the stand-in
speaks S3 as the SDK does."""

import hashlib

import pytest
import requests

from s3_peer import S3Peer

botocore = pytest.importorskip("botocore", reason="SKIPPED LOUDLY: python3-botocore is not installed "
                                                  "(debian-packages.txt)")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
import botocore.session  # noqa: E402

KEY, SECRET, BUCKET = "AKIDBOTOCORE", "boto/secret+key", "sdk-bucket"
MIB = 1024 * 1024


@pytest.fixture
def s3(monkeypatch):
    for v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(v, raising=False)
    peer = S3Peer(KEY, SECRET, buckets={BUCKET}).start()
    yield peer
    peer.stop()


def client(peer, secret=SECRET):
    return botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=peer.url, aws_access_key_id=KEY, aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def code_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def test_botocore_objects_round_trip_and_a_wrong_secret_is_refused(s3):
    c = client(s3)
    body = b"object stored by the AWS SDK\n"
    put = c.put_object(Bucket=BUCKET, Key="a/b c.txt", Body=body, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId="alias/sdk")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert c.get_object(Bucket=BUCKET, Key="a/b c.txt")["Body"].read() == body
    head = c.head_object(Bucket=BUCKET, Key="a/b c.txt")
    assert head["ContentLength"] == len(body)
    assert s3.objects[(BUCKET, "a/b c.txt")]["kms_key"] == "alias/sdk"
    assert [o["Key"] for o in c.list_objects_v2(Bucket=BUCKET, Prefix="a/")["Contents"]] == ["a/b c.txt"]
    c.delete_object(Bucket=BUCKET, Key="a/b c.txt")
    assert code_of(lambda: c.get_object(Bucket=BUCKET, Key="a/b c.txt")) == "NoSuchKey"
    assert code_of(lambda: c.put_object(Bucket="elsewhere", Key="x", Body=b"x")) == "NoSuchBucket"
    assert code_of(lambda: client(s3, "not-the-secret").put_object(Bucket=BUCKET, Key="x", Body=b"x")) \
        == "SignatureDoesNotMatch"
    assert code_of(lambda: c.put_object(Bucket=BUCKET, Key="x", Body=b"x", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")) \
        == "BadDigest"


def test_botocore_multipart_as_aws_documents_it(s3):
    c = client(s3)
    parts = [bytes([i]) * (5 * MIB) for i in (1, 2)] + [b"tail"]
    up = c.create_multipart_upload(Bucket=BUCKET, Key="big")["UploadId"]
    etags = [c.upload_part(Bucket=BUCKET, Key="big", UploadId=up, PartNumber=n, Body=p)["ETag"]
             for n, p in enumerate(parts, 1)]
    assert etags == ['"%s"' % hashlib.md5(p).hexdigest() for p in parts]
    listed = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    assert code_of(lambda: c.complete_multipart_upload(
        Bucket=BUCKET, Key="big", UploadId=up, MultipartUpload={"Parts": listed[::-1]})) == "InvalidPartOrder"
    assert code_of(lambda: c.complete_multipart_upload(
        Bucket=BUCKET, Key="big", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]})) == "InvalidPart"
    done = c.complete_multipart_upload(Bucket=BUCKET, Key="big", UploadId=up, MultipartUpload={"Parts": listed})
    want = '"%s-3"' % hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert done["ETag"] == want                       # botocore read the XML answer, &quot; and all
    assert c.head_object(Bucket=BUCKET, Key="big")["ETag"] == want
    assert c.get_object(Bucket=BUCKET, Key="big")["Body"].read() == b"".join(parts)
    # a part under 5 MiB that is not the last: EntityTooSmall; an aborted upload is gone
    up = c.create_multipart_upload(Bucket=BUCKET, Key="small")["UploadId"]
    e1 = c.upload_part(Bucket=BUCKET, Key="small", UploadId=up, PartNumber=1, Body=b"x" * 100)["ETag"]
    e2 = c.upload_part(Bucket=BUCKET, Key="small", UploadId=up, PartNumber=2, Body=b"y")["ETag"]
    assert code_of(lambda: c.complete_multipart_upload(
        Bucket=BUCKET, Key="small", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})) == "EntityTooSmall"
    c.abort_multipart_upload(Bucket=BUCKET, Key="small", UploadId=up)
    assert code_of(lambda: c.upload_part(Bucket=BUCKET, Key="small", UploadId=up, PartNumber=3, Body=b"z")) \
        == "NoSuchUpload"
    assert s3.uploads == {} and (BUCKET, "small") not in s3.objects


def test_botocore_presigned_url_is_served_until_it_expires(s3):
    c = client(s3)
    c.put_object(Bucket=BUCKET, Key="doc.pdf", Body=b"%PDF-1.4 presigned")
    url = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "doc.pdf"}, ExpiresIn=60)
    s = requests.Session()
    s.trust_env = False
    r = s.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"%PDF-1.4 presigned"
    s3.clock_skew = 61
    r = s.get(url, timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
