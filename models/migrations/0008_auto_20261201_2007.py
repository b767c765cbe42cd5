from tortoise import migrations
from tortoise.migrations import operations as ops
from huituan.models.outbox import OutboxKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_auto_20261201_1912')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='subscribe_message: subscribe_message\nwecom_message: wecom_message\nrobot_push: robot_push\nrefund: refund\ntransfer: transfer\nwechat_shipping_info: wechat_shipping_info\nwechat_confirm_receive: wechat_confirm_receive\ntransfer_cancel: transfer_cancel\nnotification: notification\nwecom_poster: wecom_poster', enum_type=OutboxKind, max_length=32),
        ),
    ]
