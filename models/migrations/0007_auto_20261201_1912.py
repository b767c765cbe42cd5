from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from huituan.models.notification import Channel, NotificationStatus
from huituan.models.outbox import OutboxKind
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_auto_20261201_1907')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(unique=True, max_length=191)),
                ('claim', fields.CharField(description='random token of the insert that won the dedupe key', max_length=32)),
                ('event', fields.CharField(db_index=True, max_length=48)),
                ('channel', fields.CharEnumField(description='subscribe: subscribe\nwecom_app: wecom_app\nrobot: robot', enum_type=Channel, max_length=16)),
                ('user_id', fields.BigIntField(null=True, db_index=True)),
                ('operator_id', fields.BigIntField(null=True)),
                ('touser', fields.CharField(default='', description='openid or WeCom userid', max_length=64)),
                ('template_id', fields.CharField(default='', db_index=True, max_length=64)),
                ('values', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('page', fields.CharField(default='', max_length=256)),
                ('urgent', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=NotificationStatus.pending, db_index=True, description='pending: pending\nsent: sent\nskipped: skipped\nfailed: failed', enum_type=NotificationStatus, max_length=16)),
                ('reason', fields.CharField(default='', description='why skipped or failed (no_quota, disabled, errcode)', max_length=64)),
                ('error_code', fields.IntField(null=True)),
                ('error', fields.TextField(default='', unique=False)),
                ('due_at', fields.DatetimeField(null=True, description='not before this (end of quiet hours)', auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'models', 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One message to one recipient about one event, with why it was skipped or failed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationPreference',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('event', fields.CharField(max_length=48)),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notification_preference', 'app': 'models', 'unique_together': (('user_id', 'event'),), 'pk_attr': 'id', 'table_description': 'A reminder kind a user turned off or back on.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReminderRequest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('event', fields.CharField(description='the notification event to send, e.g. flash_sale_starting', max_length=48)),
                ('ref_id', fields.BigIntField(description='what it is about, e.g. the flash-sale session id')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reminder_request', 'app': 'models', 'unique_together': (('user_id', 'event', 'ref_id'),), 'indexes': [Index(fields=['event', 'ref_id'])], 'pk_attr': 'id', 'table_description': 'A user pressed remind me on something that starts later (a flash-sale session).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionQuota',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('template_id', fields.CharField(max_length=64)),
                ('remaining', fields.IntField(default=0)),
                ('granted_total', fields.IntField(default=0)),
                ('used_total', fields.IntField(default=0)),
                ('banned', fields.BooleanField(default=False, description='the user chose never to be asked again')),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'subscription_quota', 'app': 'models', 'unique_together': (('user_id', 'template_id'),), 'pk_attr': 'id', 'table_description': 'How many one-time subscribe messages of a template a user has allowed and not yet used.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Order',
            name='ready_at',
            field=fields.DatetimeField(null=True, description='arrived at the pickup point', auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='subscribe_message: subscribe_message\nwecom_message: wecom_message\nrobot_push: robot_push\nrefund: refund\ntransfer: transfer\nwechat_shipping_info: wechat_shipping_info\nwechat_confirm_receive: wechat_confirm_receive\ntransfer_cancel: transfer_cancel\nnotification: notification', enum_type=OutboxKind, max_length=32),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['status', 'next_attempt_at']),
        ),
    ]
