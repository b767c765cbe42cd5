from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from huituan.models.sharing import ShareChannel, ShareEventKind, ShareTargetKind
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_auto_20261201_1842')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PosterTemplate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=32)),
                ('spec', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('version', fields.IntField(default=1)),
                ('created_by', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'poster_template', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An operator-added poster template: the layout as JSON data, versioned on every change.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PosterTemplateChoice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(unique=True, max_length=16)),
                ('template_key', fields.CharField(max_length=32)),
                ('updated_by', fields.BigIntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'poster_template_choice', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The template a poster kind uses when the request names none (operators switch it).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShareCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('sharer_id', fields.BigIntField(db_index=True)),
                ('target_kind', fields.CharEnumField(description='promoter_invite: promoter_invite\nproduct: product\ngroup_buy: group_buy\nbargain: bargain\nleader_store: leader_store', enum_type=ShareTargetKind, max_length=16)),
                ('target_id', fields.BigIntField()),
                ('channel', fields.CharEnumField(description='poster: poster\nlink: link\nmoments: moments', enum_type=ShareChannel, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'share_code', 'app': 'models', 'unique_together': (('sharer_id', 'target_kind', 'target_id', 'channel'),), 'pk_attr': 'id', 'table_description': 'A short code that fits the scene of a mini-program code: one per sharer, target and channel.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShareEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('share_code_id', fields.BigIntField(db_index=True)),
                ('sharer_id', fields.BigIntField(db_index=True)),
                ('channel', fields.CharEnumField(description='poster: poster\nlink: link\nmoments: moments', enum_type=ShareChannel, max_length=10)),
                ('kind', fields.CharEnumField(description='open: open\nnew_user: new_user\nbind: bind\norder: order\nrefund: refund', enum_type=ShareEventKind, max_length=10)),
                ('user_id', fields.BigIntField(null=True)),
                ('order_id', fields.BigIntField(null=True, db_index=True)),
                ('amount_fen', fields.BigIntField(default=0)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'share_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One step of the share funnel, attributed to a code. Append-only, deduplicated by key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShareMaterial',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.BigIntField(null=True, db_index=True)),
                ('activity_kind', fields.CharField(default='', max_length=16)),
                ('activity_id', fields.BigIntField(null=True)),
                ('title', fields.CharField(default='', max_length=64)),
                ('texts', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('images', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('sort', fields.IntField(default=0)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_by', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'share_material', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Share copy and images (素材) attached to a product or an activity by an operator.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SkuPriceHistory',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sku_id', fields.BigIntField(db_index=True)),
                ('price_fen', fields.IntField()),
                ('on_sale', fields.BooleanField(default=True)),
                ('started_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sku_price_history', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Each price a SKU was offered at, from when (kept by the catalog on every price change).'},
            bases=['Model'],
        ),
    ]
