"""A Segment-shaped Protobuf message for the tests, built from a descriptor (no protoc needed):

syntax = "proto3"; package shop.events;
message SegmentEvent { string type = 1; string userId = 2; string event = 3; string messageId = 4;
                       google.protobuf.Timestamp timestamp = 5; google.protobuf.Struct properties = 6; }
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, struct_pb2, timestamp_pb2

_T = descriptor_pb2.FieldDescriptorProto
_file = descriptor_pb2.FileDescriptorProto(
    name="shop/events/segment.proto",
    package="shop.events",
    syntax="proto3",
    dependency=[struct_pb2.DESCRIPTOR.name, timestamp_pb2.DESCRIPTOR.name],
)
_msg = _file.message_type.add(name="SegmentEvent")
for number, name in enumerate(("type", "userId", "event", "messageId"), start=1):
    _msg.field.add(name=name, number=number, type=_T.TYPE_STRING, label=_T.LABEL_OPTIONAL)
_msg.field.add(name="timestamp", number=5, type=_T.TYPE_MESSAGE, label=_T.LABEL_OPTIONAL,
               type_name=".google.protobuf.Timestamp")  # fmt: skip
_msg.field.add(name="properties", number=6, type=_T.TYPE_MESSAGE, label=_T.LABEL_OPTIONAL,
               type_name=".google.protobuf.Struct")  # fmt: skip

DESCRIPTOR = descriptor_pool.Default().Add(_file)
SegmentEvent = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["SegmentEvent"])
