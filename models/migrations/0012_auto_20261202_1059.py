from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_auto_20261202_0639')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='PromoterLevel',
            name='name',
            field=fields.CharField(unique=True, max_length=32),
        ),
    ]
